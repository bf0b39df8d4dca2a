"""UI results a V3 node returns in `NodeOutput(ui=...)`: the parts that are plain data.

Each object renders the `executed` message's output dict with `as_dict()`. The helpers that
write files (PreviewImage, PreviewMask, PreviewAudio, ImageSaveHelper) need tensors and
live below the torch-free line, in `comfy_core.images.ui_outputs`, which re-exports these.
"""

from __future__ import annotations

from typing import Any

from comfy_core.registry.v3.base import FolderType


class UIOutput:
    """Base of UI results: `as_dict()` gives the node's `output` in the executed message."""

    def as_dict(self) -> dict:
        raise NotImplementedError


class SavedResult(dict):
    """One file the UI can fetch through /view: {"filename", "subfolder", "type"}."""

    def __init__(self, filename: str, subfolder: str, type: FolderType) -> None:
        super().__init__(filename=filename, subfolder=subfolder, type=FolderType(type).value)

    @property
    def filename(self) -> str:
        return self["filename"]

    @property
    def subfolder(self) -> str:
        return self["subfolder"]

    @property
    def type(self) -> FolderType:
        return FolderType(self["type"])


class SavedImages(UIOutput):
    """Saved image files (`animated` marks one animated file)."""

    def __init__(self, results: list, is_animated: bool = False) -> None:
        self.results = results
        self.is_animated = is_animated

    def as_dict(self) -> dict:
        data: dict[str, Any] = {"images": self.results}
        if self.is_animated:
            data["animated"] = (True,)
        return data


class SavedAudios(UIOutput):
    """Saved audio files."""

    def __init__(self, results: list) -> None:
        self.results = results

    def as_dict(self) -> dict:
        return {"audio": self.results}


class PreviewVideo(UIOutput):
    """Video files already written (their SavedResult dicts), shown as animated images."""

    def __init__(self, values: list, **_: Any) -> None:
        self.values = values

    def as_dict(self) -> dict:
        return {"images": self.values, "animated": (True,)}


class PreviewText(UIOutput):
    """A text shown on the node."""

    def __init__(self, value: str, **_: Any) -> None:
        self.value = value

    def as_dict(self) -> dict:
        return {"text": (self.value,)}


class PreviewUI3D(UIOutput):
    """A 3D model file and camera state for the 3D viewer."""

    def __init__(self, model_file: Any, camera_info: Any, **kwargs: Any) -> None:
        self.model_file = model_file
        self.camera_info = camera_info
        self.bg_image_path = kwargs.get("bg_image_path")

    def as_dict(self) -> dict:
        return {"result": [self.model_file, self.camera_info, self.bg_image_path]}


__all__ = ["PreviewText", "PreviewUI3D", "PreviewVideo", "SavedAudios", "SavedImages",
           "SavedResult", "UIOutput"]
