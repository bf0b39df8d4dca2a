"""`comfy.utils`: ComfyUI's helpers for plugins (COMPAT-PLUGINS 3.1), over comfy_core.

Weight files: `load_torch_file` reads safetensors through our loader. Pickle files
(.ckpt/.pt/.pth/.bin) are refused with an error naming the file, as everywhere in this
server: unpickling can run code (torch's weights_only mode narrows that but still parses
an attacker's pickle); convert them to .safetensors.

Progress: `ProgressBar` reports to the running job (websocket `progress`, previews) and
raises `comfy.model_management.InterruptProcessingException` when the prompt was
interrupted. Module-level names (`PROGRESS_BAR_ENABLED`, `PROGRESS_BAR_HOOK`) are ComfyUI's:
packs toggle and replace them; the hook is our job reporter unless a pack sets its own.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable

import torch

from comfy._unet_keys import (  # noqa: F401  (ComfyUI's names, re-exported for packs)
    TRANSFORMER_BLOCKS,
    UNET_MAP_ATTENTIONS,
    UNET_MAP_BASIC,
    UNET_MAP_RESNET,
    unet_to_diffusers,
)
from comfy_core import runtime
from comfy_core.images import resize
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict, save_state_dict
from comfy_core.models.vae_tiled import tiled_apply

log = logging.getLogger(__name__)


# -- weight files ---------------------------------------------------------------------------
def load_torch_file(ckpt: str, safe_load: bool = False, device: Any = None,
                    return_metadata: bool = False) -> Any:
    """State dict of a .safetensors/.sft file on `device` (CPU by default); with
    `return_metadata`, `(sd, header metadata or None)`. Pickle formats raise ValueError."""
    device = torch.device("cpu") if device is None else device
    try:
        sd = load_state_dict(ckpt, device)
    except CheckpointError as exc:
        raise ValueError(f"{exc} (file: {ckpt})") from exc
    if not return_metadata:
        return sd
    return sd, _metadata(ckpt)


def _metadata(path: str) -> dict | None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        return f.metadata()


def save_torch_file(sd: dict, ckpt: str, metadata: dict | None = None) -> None:
    save_state_dict(sd, Path(ckpt), metadata)


def calculate_parameters(sd: dict, prefix: str = "") -> int:
    return sum(v.nelement() for k, v in sd.items() if k.startswith(prefix))


def weight_dtype(sd: dict, prefix: str = "") -> torch.dtype | None:
    """The dtype holding the most elements among keys starting with `prefix`."""
    counts: dict[torch.dtype, int] = {}
    for key, value in sd.items():
        if key.startswith(prefix) and isinstance(value, torch.Tensor):
            counts[value.dtype] = counts.get(value.dtype, 0) + value.nelement()
    return max(counts, key=counts.get) if counts else None


def state_dict_key_replace(state_dict: dict, keys_to_replace: dict) -> dict:
    for old, new in keys_to_replace.items():
        if old in state_dict:
            state_dict[new] = state_dict.pop(old)
    return state_dict


def state_dict_prefix_replace(state_dict: dict, replace_prefix: dict,
                              filter_keys: bool = False) -> dict:
    """Rename keys by prefix: matches are popped and re-added (in `state_dict` itself, or
    only in a new dict of the renamed keys with `filter_keys`)."""
    out = {} if filter_keys else state_dict
    for old, new in replace_prefix.items():
        for key in [k for k in state_dict if k.startswith(old)]:
            out[new + key[len(old):]] = state_dict.pop(key)
    return out


# -- attributes by dotted path --------------------------------------------------------------
def get_attr(obj: Any, attr: str) -> Any:
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def set_attr(obj: Any, attr: str, value: Any) -> Any:
    """Set a dotted attribute; returns the previous value."""
    names = attr.split(".")
    for name in names[:-1]:
        obj = getattr(obj, name)
    previous = getattr(obj, names[-1])
    setattr(obj, names[-1], value)
    return previous


def set_attr_param(obj: Any, attr: str, value: torch.Tensor) -> Any:
    return set_attr(obj, attr, torch.nn.Parameter(value, requires_grad=False))


def copy_to_param(obj: Any, attr: str, value: torch.Tensor) -> None:
    """Copy `value` into the existing parameter in place."""
    get_attr(obj, attr).data.copy_(value)


# -- resizing and tiling ----------------------------------------------------------------------
def common_upscale(samples: torch.Tensor, width: int, height: int, upscale_method: str,
                   crop: str) -> torch.Tensor:
    """Resize channel-first `[B, C, H, W]` (5-D `[B, C, T, H, W]` folded over T) to
    `width x height`; `crop == "center"` crops to the target aspect first."""
    if samples.ndim == 5:
        b, c, t, h, w = samples.shape
        folded = samples.movedim(2, 1).reshape(b * t, c, h, w)
        out = common_upscale(folded, width, height, upscale_method, crop)
        return out.reshape(b, t, c, height, width).movedim(1, 2)
    return resize.upscale(samples, width, height, upscale_method,
                          "center" if crop == "center" else "disabled")


def lanczos(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    return resize.lanczos(samples, width, height)


def bislerp(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    return resize.bislerp(samples, width, height)


def get_tiled_scale_steps(width: int, height: int, tile_x: int, tile_y: int,
                          overlap: int) -> int:
    def side(size: int, tile: int) -> int:
        return 1 if size <= tile else math.ceil((size - overlap) / (tile - overlap))

    return side(width, tile_x) * side(height, tile_y)


@torch.inference_mode()
def tiled_scale(samples: torch.Tensor, function: Callable, tile_x: int = 64, tile_y: int = 64,
                overlap: int = 8, upscale_amount: float = 4, out_channels: int = 3,
                output_device: str = "cpu", pbar: Any = None) -> torch.Tensor:
    """Apply `function` over overlapping channel-first tiles, blended with linear feathering:
    `[B, C, H, W]` -> `[B, out_channels, round(H*s), round(W*s)]` on `output_device`."""
    if tile_x != tile_y:
        raise ValueError(f"tiled_scale needs square tiles here, got {tile_x}x{tile_y}")
    out = tiled_apply(samples, function, tile=tile_x, overlap=overlap, scale=upscale_amount,
                      out_channels=out_channels,
                      on_tile=(lambda done, total: pbar.update(1)) if pbar is not None else None)
    return out.to(output_device)


def tiled_scale_multidim(samples: torch.Tensor, function: Callable, tile: tuple = (64, 64),
                         overlap: int = 8, upscale_amount: float = 4, out_channels: int = 3,
                         output_device: str = "cpu", downscale: bool = False,
                         index_formulas: Any = None, pbar: Any = None) -> torch.Tensor:
    """The N-D form; two spatial dimensions with square tiles are supported."""
    if len(tile) != 2 or samples.ndim != 4 or downscale:
        raise ValueError("tiled_scale_multidim supports 2-D upscaling tiles here "
                         f"(got tile={tile}, input of {samples.ndim} dims)")
    return tiled_scale(samples, function, tile[1], tile[0], overlap, upscale_amount,
                       out_channels, output_device, pbar)


# -- batches and masks -----------------------------------------------------------------------
def repeat_to_batch_size(tensor: torch.Tensor, batch_size: int, dim: int = 0) -> torch.Tensor:
    size = tensor.shape[dim]
    if size > batch_size:
        return tensor.narrow(dim, 0, batch_size)
    if size < batch_size:
        reps = [1] * tensor.ndim
        reps[dim] = math.ceil(batch_size / size)
        return tensor.repeat(reps).narrow(dim, 0, batch_size)
    return tensor


def resize_to_batch_size(tensor: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Pick `batch_size` items spread evenly over the batch (dropping or repeating)."""
    in_size = tensor.shape[0]
    if in_size == batch_size:
        return tensor
    if batch_size <= 1:
        return tensor[:batch_size]
    if batch_size < in_size:
        scale = (in_size - 1) / (batch_size - 1)
        picks = [min(round(i * scale), in_size - 1) for i in range(batch_size)]
    else:
        scale = in_size / batch_size
        picks = [min(math.floor((i + 0.5) * scale), in_size - 1) for i in range(batch_size)]
    return tensor[picks]


def reshape_mask(input_mask: torch.Tensor, output_shape: tuple) -> torch.Tensor:
    """A mask `[B?, ..spatial]` resized (linear) to `output_shape` `[B, C, ..spatial]`."""
    dims = len(output_shape) - 2
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]
    mask = input_mask.reshape((-1, 1) + tuple(input_mask.shape[-dims:]))
    if tuple(mask.shape[2:]) != tuple(output_shape[2:]):
        mask = torch.nn.functional.interpolate(mask, size=tuple(output_shape[2:]), mode=mode)
    if mask.shape[1] < output_shape[1]:
        reps = [1, math.ceil(output_shape[1] / mask.shape[1])] + [1] * dims
        mask = mask.repeat(reps)[:, :output_shape[1]]
    return repeat_to_batch_size(mask, output_shape[0])


# -- progress --------------------------------------------------------------------------------
def job_progress_hook(value: int, total: int, preview: Any, node_id: str | None = None) -> None:
    """Report to the running job: `progress` (and a preview) for its node; raises
    Interrupted when the prompt was interrupted. Does nothing outside a job."""
    job = runtime.job()
    if job is not None:
        job.progress(value, total, preview)


PROGRESS_BAR_ENABLED = True
PROGRESS_BAR_HOOK: Callable | None = job_progress_hook


def set_progress_bar_enabled(enabled: bool) -> None:
    global PROGRESS_BAR_ENABLED
    PROGRESS_BAR_ENABLED = enabled


def set_progress_bar_global_hook(function: Callable | None) -> None:
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


class ProgressBar:
    """`total` steps of the running node; the hook is the global one at construction."""

    def __init__(self, total: int, node_id: str | None = None) -> None:
        self.total = total
        self.current = 0
        self.hook = PROGRESS_BAR_HOOK
        self.node_id = node_id

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        if self.hook is not None:
            self.hook(self.current, self.total, preview, node_id=self.node_id)

    def update(self, value: int) -> None:
        self.update_absolute(self.current + value)
