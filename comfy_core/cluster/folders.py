"""The server's view of model folders in cluster mode: the files its workers can see.

Validation and the loaders' combo lists (/object_info) read model file lists through the
app's FolderPaths (and plugins through `folder_paths`). With --ray the models live on the
workers' nodes, so those lists are the union of what the workers reported; everything
else (input, output and temp folders, the folder table plugins extend) is the server's
own FolderPaths, to which this view delegates.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from comfy_core.files import FolderPaths
from comfy_core.files.folders import LEGACY_NAMES


class ClusterFolderPaths:
    """`base` with model file lists taken from `listing()` (folder -> names)."""

    def __init__(self, base: FolderPaths,
                 listing: Callable[[], Mapping[str, frozenset[str]]]) -> None:
        self._base = base
        self._listing = listing

    @property
    def base(self) -> FolderPaths:
        return self._base

    def get_filename_list(self, name: str) -> list[str]:
        names = self._listing().get(LEGACY_NAMES.get(name, name))
        if names is None:
            return self._base.get_filename_list(name)
        return sorted(names)

    def __getattr__(self, name: str) -> Any:  # everything else is the server's own
        return getattr(self._base, name)
