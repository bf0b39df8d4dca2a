"""The V3 `ui` namespace: UI results a node returns in `NodeOutput(ui=...)`, including the
ones that write files (previews to the temp folder, images to the output folder).

The plain-data results live torch-free in `comfy_core.registry.v3.ui` and are re-exported
here, so built-in nodes write `from comfy_core.images import ui_outputs as ui` and plugins
get this module as `comfy_api.latest.ui`. Files go through the running app's folders;
PNG metadata (prompt, workflow) comes from the node's `cls.hidden` unless
--disable-metadata is set.
"""

from __future__ import annotations

import random
import wave
from typing import Any

import numpy as np
import torch

from comfy_core import runtime
from comfy_core.files.atomic import atomic_path
from comfy_core.images import png, save
from comfy_core.images.convert import tensor_to_pil
from comfy_core.registry.v3.base import FolderType
from comfy_core.registry.v3.ui import (
    PreviewText,
    PreviewUI3D,
    PreviewVideo,
    SavedAudios,
    SavedImages,
    SavedResult,
    UIOutput,
)

TEMP_PREFIX = "ComfyUI_temp_"


def _random_suffix(length: int = 5) -> str:
    return "".join(random.choice(save.PREVIEW_SUFFIX_ALPHABET) for _ in range(length))


def _metadata_of(cls: Any) -> dict:
    """prompt/extra_pnginfo from the node's hidden values; {} when metadata is off."""
    settings = runtime.app().settings
    hidden = getattr(cls, "hidden", None) if cls is not None else None
    if hidden is None or getattr(settings, "disable_metadata", False):
        return {}
    return {"prompt": hidden.prompt, "extra_pnginfo": hidden.extra_pnginfo}


class ImageSaveHelper:
    """Writing IMAGE batches for V3 nodes (one PNG per image, or one animated file)."""

    @staticmethod
    def save_images(images: torch.Tensor, filename_prefix: str, folder_type: FolderType,
                    cls: Any, compress_level: int = png.SAVE_COMPRESS_LEVEL) -> list[SavedResult]:
        meta = _metadata_of(cls)
        entries = save.save_image_batch(
            images, runtime.app().folders, filename_prefix, kind=FolderType(folder_type).value,
            compress_level=compress_level, metadata=bool(meta), **meta)
        return [SavedResult(e["filename"], e["subfolder"], FolderType(e["type"])) for e in entries]

    @staticmethod
    def get_save_images_ui(images: torch.Tensor, filename_prefix: str, cls: Any,
                           compress_level: int = png.SAVE_COMPRESS_LEVEL) -> SavedImages:
        return SavedImages(ImageSaveHelper.save_images(images, filename_prefix,
                                                       FolderType.output, cls, compress_level))

    @staticmethod
    def save_animated_png(images: torch.Tensor, filename_prefix: str, folder_type: FolderType,
                          cls: Any, fps: float, compress_level: int) -> SavedResult:
        """All frames of `images` as one animated PNG."""
        return _save_animation(images, filename_prefix, folder_type, "png", fps,
                               {"compress_level": compress_level, **_png_info(cls)})

    @staticmethod
    def save_animated_webp(images: torch.Tensor, filename_prefix: str, folder_type: FolderType,
                           cls: Any, fps: float, lossless: bool, quality: int,
                           method: int) -> SavedResult:
        """All frames of `images` as one animated WebP."""
        return _save_animation(images, filename_prefix, folder_type, "webp", fps,
                               {"lossless": lossless, "quality": quality, "method": method})


def _png_info(cls: Any) -> dict:
    meta = _metadata_of(cls)
    info = png.build_pnginfo(**meta) if meta else None
    return {"pnginfo": info} if info is not None else {}


def _save_animation(images: torch.Tensor, prefix: str, folder_type: FolderType, ext: str,
                    fps: float, options: dict) -> SavedResult:
    frames = [tensor_to_pil(image) for image in images]
    folder, filename, counter, subfolder, _ = runtime.app().folders.save_image_path(
        prefix, frames[0].width, frames[0].height, kind=FolderType(folder_type).value)
    name = f"{filename}_{counter:05}_.{ext}"
    with atomic_path(folder / name) as tmp:
        frames[0].save(tmp, format=ext.upper(), save_all=True, append_images=frames[1:],
                       duration=int(1000.0 / fps), **options)
    return SavedResult(name, subfolder, FolderType(folder_type))


class PreviewImage(UIOutput):
    """Images saved to the temp folder now (fast PNG level), shown on the node."""

    def __init__(self, image: torch.Tensor, animated: bool = False, cls: Any = None,
                 **_: Any) -> None:
        self.values = ImageSaveHelper.save_images(
            image, TEMP_PREFIX + _random_suffix(), FolderType.temp, cls, png.PREVIEW_COMPRESS_LEVEL)
        self.animated = animated

    def as_dict(self) -> dict:
        return {"images": self.values, "animated": (self.animated,)}


class PreviewMask(PreviewImage):
    """A MASK `[B, H, W]` (or `[H, W]`) previewed as grey images."""

    def __init__(self, mask: torch.Tensor, animated: bool = False, cls: Any = None,
                 **kwargs: Any) -> None:
        grey = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1]).movedim(1, -1).expand(-1, -1, -1, 3)
        super().__init__(grey, animated, cls, **kwargs)


class PreviewAudio(UIOutput):
    """An AUDIO value ({"waveform": [B, C, T], "sample_rate"}) written to the temp folder
    as 16-bit WAV files (one per batch item), for the node's audio player."""

    def __init__(self, audio: dict, cls: Any = None, **_: Any) -> None:
        self.values = _save_wav(audio, TEMP_PREFIX + _random_suffix())

    def as_dict(self) -> dict:
        return {"audio": self.values}


def _save_wav(audio: dict, prefix: str) -> list[SavedResult]:
    folder, filename, counter, subfolder, _ = runtime.app().folders.save_image_path(
        prefix, kind="temp")
    results = []
    for index, clip in enumerate(audio["waveform"].detach().cpu().float()):
        samples = (clip.clamp(-1.0, 1.0).T.numpy() * 32767.0).round().astype(np.int16)  # (T, C)
        name = f"{filename.replace('%batch_num%', str(index))}_{counter:05}_.wav"
        with atomic_path(folder / name) as tmp, wave.open(str(tmp), "wb") as out:
            out.setnchannels(samples.shape[1])
            out.setsampwidth(2)
            out.setframerate(int(audio["sample_rate"]))
            out.writeframes(samples.tobytes())
        results.append(SavedResult(name, subfolder, FolderType.temp))
        counter += 1
    return results


__all__ = ["ImageSaveHelper", "PreviewAudio", "PreviewImage", "PreviewMask", "PreviewText",
           "PreviewUI3D", "PreviewVideo", "SavedAudios", "SavedImages", "SavedResult",
           "UIOutput"]
