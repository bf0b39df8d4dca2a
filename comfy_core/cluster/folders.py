"""The server's view of model folders in cluster mode: the files its workers can see.

Validation and the loaders' combo lists (/object_info) read model file lists through the
app's FolderPaths. With --ray the models live on the workers' nodes, so those lists are
the union of what the workers reported; input, output and temp stay the server's own.
"""

from __future__ import annotations

from typing import Callable, Mapping

from comfy_core.files import FolderPaths
from comfy_core.files.folders import LEGACY_NAMES


class ClusterFolderPaths(FolderPaths):
    """`base` with model file lists taken from `listing()` (folder -> names)."""

    def __init__(self, base: FolderPaths,
                 listing: Callable[[], Mapping[str, frozenset[str]]]) -> None:
        super().__init__(base._folders, base.input_dir, base.output_dir, base.temp_dir,
                         base.user_dir)
        self._listing = listing

    def get_filename_list(self, name: str) -> list[str]:
        key = LEGACY_NAMES.get(name, name)
        names = self._listing().get(key)
        if names is None:
            return super().get_filename_list(name)
        return sorted(names)
