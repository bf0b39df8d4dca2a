"""Pixel-space upscale models (ESRGAN and the rest of the zoo) through `spandrel`.

The UPSCALE_MODEL value is spandrel's own `ImageModelDescriptor` (`.model`, `.scale`,
`.to()`, callable on `[B, C, H, W]`), as plugins expect (COMPAT-PLUGINS 6.4). Only
safetensors files are read; a file spandrel does not recognise, or one that is not a
single-image model, is refused with an error naming the file and what it looks like.

spandrel imports torchvision at import time for two architectures (LaMa inpainting and
RestoreFormer face restoration) that only use it inside their forward. torchvision is not
installable next to a CPU torch from PyPI, so when it is missing spandrel is imported with a
stand-in `torchvision.transforms.functional` whose functions raise a clear error if one of
those two architectures is ever run; the stand-in is removed from `sys.modules` right after
the import, so nothing else can pick it up.
"""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import torch

from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict

# SwinIR-family files saved from a DataParallel wrapper carry this prefix (ComfyUI strips it).
_DATAPARALLEL_PROBE = "module.layers.0.residual_group.blocks.0.norm1.weight"
_STAND_IN_NAMES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")


class UpscaleModelError(CheckpointError):
    """An upscale-model file that cannot be used; the message names the file."""


def _needs_torchvision(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("this upscale architecture needs torchvision, which is not installed "
                       "(install the torchvision build matching your torch)")


class _InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


@contextlib.contextmanager
def _torchvision_stand_in() -> Iterator[None]:
    """Provide the three names spandrel imports from torchvision for the duration of its
    import, when the real package is absent."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.rotate = functional.normalize = _needs_torchvision  # type: ignore[attr-defined]
    functional.InterpolationMode = _InterpolationMode  # type: ignore[attr-defined]
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional  # type: ignore[attr-defined]
    package = types.ModuleType("torchvision")
    package.transforms = transforms  # type: ignore[attr-defined]
    added = dict(zip(_STAND_IN_NAMES, (package, transforms, functional)))
    sys.modules.update(added)
    try:
        yield
    finally:
        for name, module in added.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def import_spandrel() -> types.ModuleType:
    """The spandrel package (imported on first use: it loads ~40 architectures)."""
    if "spandrel" in sys.modules:
        return sys.modules["spandrel"]
    with _torchvision_stand_in():
        import spandrel
    return spandrel


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def load_upscale_model(path: str | Path) -> Any:
    """A spandrel ImageModelDescriptor in eval mode, on the CPU, from a safetensors file."""
    path = Path(path)
    state = load_state_dict(path)
    if _DATAPARALLEL_PROBE in state:
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    return descriptor_from_state(state, path.name)


def descriptor_from_state(state: dict[str, torch.Tensor], name: str) -> Any:
    """The descriptor for `state`; errors name `name` and what the weights look like."""
    spandrel = import_spandrel()
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError as exc:
        raise UpscaleModelError(
            f"{name}: not an upscale model (expected an architecture spandrel recognises, such "
            f"as ESRGAN/RRDB, Real-ESRGAN Compact, SwinIR, HAT, DAT or SPAN); "
            f"the weights look like {describe_weights(state)}") from exc
    except (KeyError, ValueError, RuntimeError, AssertionError, IndexError) as exc:
        raise UpscaleModelError(f"{name}: recognised as an upscale model but its weights do "
                                f"not fit the architecture ({_first_line(exc)})") from exc
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise UpscaleModelError(f"{name}: a {descriptor.architecture.name} model "
                                f"({type(descriptor).__name__}); an upscale model must be a "
                                "single-image model")
    return descriptor.eval()
