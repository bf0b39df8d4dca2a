"""`comfy_api.latest.Types` and `InputImpl`: ComfyUI's video helpers, by name. Packs build
their node schemas from the container and codec lists (so those are real), and some of
their nodes make videos; this server works on images, so making a video raises an error
that says so."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


class VideoCodec(str, enum.Enum):
    AUTO = "auto"
    H264 = "h264"

    @classmethod
    def as_input(cls) -> list[str]:
        """The codec names offered as a combo."""
        return [member.value for member in cls]


class VideoContainer(str, enum.Enum):
    AUTO = "auto"
    MP4 = "mp4"

    @classmethod
    def as_input(cls) -> list[str]:
        """The container names offered as a combo."""
        return [member.value for member in cls]

    @classmethod
    def get_extension(cls, value: "str | VideoContainer") -> str:
        """The file extension a container writes ("mp4" for both)."""
        return "mp4" if cls(value) in (cls.AUTO, cls.MP4) else ""


@dataclass
class VideoComponents:
    """Frames IMAGE [T,H,W,C], optional AUDIO, frame rate and metadata of a video."""

    images: Any
    audio: Any = None
    frame_rate: Fraction = Fraction(0)
    metadata: Any = None


class _Unsupported:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"comfy_api.latest.InputImpl.{type(self).__name__}: VIDEO values are not "
                                  "supported by this server (it works on images)")


class VideoFromFile(_Unsupported):
    """ComfyUI's VIDEO read from a file (not supported here)."""


class VideoFromComponents(_Unsupported):
    """ComfyUI's VIDEO made from frames (not supported here)."""


class Types:
    VideoCodec = VideoCodec
    VideoContainer = VideoContainer
    VideoComponents = VideoComponents


class InputImpl:
    VideoFromFile = VideoFromFile
    VideoFromComponents = VideoFromComponents
