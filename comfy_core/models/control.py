"""CONTROL_NET values: what ControlNet apply nodes put in a conditioning entry's `control`,
with the interface of ComfyUI's `comfy.controlnet.ControlBase` (COMPAT-PLUGINS 3.17),
because plugin packs subclass these classes and call their methods.

During sampling the guider calls `pre_run(model, percent_to_sigma)` once, then
`get_control(x_noisy, sigma, cond, batched_number, transformer_options)` for every batched
model call, and `cleanup()` at the end. `get_control` returns residual lists
`{"input": [...], "middle": [...], "output": [...]}` (None entries allowed) that the UNet
adds where ComfyUI's does, popping from the end of each list: "input" after each encoder
block, "middle" after the middle block, "output" to each skip connection on the way up.
Chained values (`previous_controlnet`) are evaluated first and their residuals summed.
Apply nodes `copy()` a loaded value (sharing its network) and set the hint on the copy.
"""

from __future__ import annotations

import enum
import logging
from typing import Any, Callable, Sequence

import torch

from comfy_core.images.resize import upscale

log = logging.getLogger(__name__)

ControlDict = dict[str, list[torch.Tensor | None]]
CONTROL_KEYS = ("input", "middle", "output")


class StrengthType(enum.Enum):
    """CONSTANT: every residual times the strength; LINEAR_UP: residual i of n times
    strength^(n - i), fading towards the deep end."""

    CONSTANT = 1
    LINEAR_UP = 2


def _identity(image: torch.Tensor) -> torch.Tensor:
    return image


def broadcast_image_to(tensor: torch.Tensor, target_batch_size: int, batched_number: int) -> torch.Tensor:
    """A hint batch for a model batch of `batched_number` conditioning chunks, each
    `target / batched_number` rows: a single hint stays one row (it broadcasts); otherwise
    each chunk gets the hints in order, cycled to the chunk size."""
    if tensor.shape[0] == 1:
        return tensor
    per_chunk = target_batch_size // batched_number
    tensor = tensor[:per_chunk]
    if per_chunk > tensor.shape[0]:
        repeats = [tensor] * (per_chunk // tensor.shape[0]) + [tensor[: per_chunk % tensor.shape[0]]]
        tensor = torch.cat(repeats, dim=0)
    if tensor.shape[0] == target_batch_size:
        return tensor
    return torch.cat([tensor] * batched_number, dim=0)


class ControlBase:
    """Hint, strength, schedule range and chaining shared by every control kind."""

    def __init__(self) -> None:
        self.cond_hint_original: torch.Tensor | None = None  # [B, C, H, W] in 0..1
        self.cond_hint: torch.Tensor | None = None  # prepared for the current latent size
        self.strength = 1.0
        self.timestep_percent_range: tuple[float, float] = (0.0, 1.0)
        self.latent_format: Any = None  # set by controls that read latents (needs a VAE)
        self.vae: Any = None
        self.global_average_pooling = False
        self.timestep_range: tuple[float, float] | None = None  # (σ at start, σ at end)
        self.compression_ratio = 8
        self.upscale_algorithm = "nearest-exact"
        self.extra_args: dict[str, Any] = {}
        self.previous_controlnet: ControlBase | None = None
        self.extra_conds: list[str] = []
        self.strength_type = StrengthType.CONSTANT
        self.concat_mask = False
        self.extra_concat_orig: list[torch.Tensor] = []
        self.extra_concat: torch.Tensor | None = None
        self.extra_hooks: Any = None
        self.preprocess_image: Callable[[torch.Tensor], torch.Tensor] = _identity
        self.source_name: str | None = None  # the file it came from, for errors (ours)

    def set_cond_hint(self, cond_hint: torch.Tensor, strength: float = 1.0,
                      timestep_percent_range: tuple[float, float] = (0.0, 1.0), vae: Any = None,
                      extra_concat: Sequence[torch.Tensor] = ()) -> "ControlBase":
        """Hint `[B, C, H, W]`, strength and (start, end) fraction of the schedule."""
        self.cond_hint_original = cond_hint
        self.strength = strength
        self.timestep_percent_range = timestep_percent_range
        if self.latent_format is not None:
            if vae is None:
                log.warning("this ControlNet reads a latent hint and needs a VAE; connect one to the apply node")
            self.vae = vae
        self.extra_concat_orig = list(extra_concat)
        if self.concat_mask and not self.extra_concat_orig:
            self.extra_concat_orig.append(torch.ones(1, 1, 1, 1))
        return self

    def pre_run(self, model: Any, percent_to_timestep_function: Callable[[float], float]) -> None:
        """Called once before sampling: the schedule range in σ (`percent_to_sigma`)."""
        start, end = self.timestep_percent_range
        self.timestep_range = (percent_to_timestep_function(start), percent_to_timestep_function(end))
        if self.previous_controlnet is not None:
            self.previous_controlnet.pre_run(model, percent_to_timestep_function)

    def set_previous_controlnet(self, controlnet: "ControlBase | None") -> "ControlBase":
        self.previous_controlnet = controlnet
        return self

    def cleanup(self) -> None:
        """After sampling: drop per-run state (prepared hints, σ range)."""
        if self.previous_controlnet is not None:
            self.previous_controlnet.cleanup()
        self.cond_hint = None
        self.extra_concat = None
        self.timestep_range = None

    def get_models(self) -> list[Any]:
        """Managed models sampling must load (this chain's networks)."""
        return [] if self.previous_controlnet is None else self.previous_controlnet.get_models()

    def get_extra_hooks(self) -> list[Any]:
        out = [] if self.extra_hooks is None else [self.extra_hooks]
        return out + ([] if self.previous_controlnet is None else self.previous_controlnet.get_extra_hooks())

    def copy_to(self, c: "ControlBase") -> None:
        """Copy the per-application settings (not the network, not the chain)."""
        c.cond_hint_original = self.cond_hint_original
        c.strength = self.strength
        c.timestep_percent_range = self.timestep_percent_range
        c.global_average_pooling = self.global_average_pooling
        c.compression_ratio = self.compression_ratio
        c.upscale_algorithm = self.upscale_algorithm
        c.latent_format = self.latent_format
        c.extra_args = dict(self.extra_args)
        c.vae = self.vae
        c.extra_conds = list(self.extra_conds)
        c.strength_type = self.strength_type
        c.concat_mask = self.concat_mask
        c.extra_concat_orig = list(self.extra_concat_orig)
        c.extra_hooks = self.extra_hooks.clone() if self.extra_hooks is not None else None
        c.preprocess_image = self.preprocess_image
        c.source_name = self.source_name

    def inference_memory_requirements(self, dtype: torch.dtype) -> int:
        return 0 if self.previous_controlnet is None else self.previous_controlnet.inference_memory_requirements(dtype)

    def set_extra_arg(self, argument: str, value: Any = None) -> None:
        """An extra keyword for the network (e.g. union models' `control_type`)."""
        self.extra_args[argument] = value

    def active_at(self, sigma: torch.Tensor) -> bool:
        """Whether σ is inside this control's schedule range (always before pre_run)."""
        if self.timestep_range is None:
            return True
        s = float(sigma[0])
        return not (s > self.timestep_range[0] or s < self.timestep_range[1])

    def _scaled(self, x: torch.Tensor, index: int, count: int) -> torch.Tensor:
        if self.global_average_pooling:
            x = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        if self.strength_type == StrengthType.LINEAR_UP:
            return x * self.strength ** float(count - index)
        return x * self.strength

    def control_merge(self, control: dict[str, Sequence[torch.Tensor | None]], control_prev: ControlDict | None,
                      output_dtype: torch.dtype | None) -> ControlDict:
        """This control's residuals times its strength, plus the chained ones entry by entry."""
        out: ControlDict = {key: [] for key in CONTROL_KEYS}
        for key, residuals in control.items():
            for i, x in enumerate(residuals):
                if x is not None:
                    x = self._scaled(x, i, len(residuals))
                    if output_dtype is not None and x.dtype != output_dtype:
                        x = x.to(output_dtype)
                out.setdefault(key, []).append(x)
        if control_prev is not None:
            for key in CONTROL_KEYS:
                mine = out[key]
                for i, prev in enumerate(control_prev.get(key, [])):
                    if i >= len(mine):
                        mine.append(prev)
                    elif prev is not None:
                        mine[i] = prev if mine[i] is None else prev + mine[i]
        return out

    def _previous_control(self, x_noisy: torch.Tensor, t: torch.Tensor, cond: dict, batched_number: int,
                          transformer_options: dict) -> ControlDict | None:
        if self.previous_controlnet is None:
            return None
        return self.previous_controlnet.get_control(x_noisy, t, cond, batched_number, transformer_options)

    def get_control(self, x_noisy: torch.Tensor, t: torch.Tensor, cond: dict, batched_number: int,
                    transformer_options: dict) -> ControlDict | None:
        """Residuals for this model call (x_noisy [B, C, h, w] unscaled, t = σ [B]), or the
        chain's when σ is outside the range; None when nothing applies."""
        return self._previous_control(x_noisy, t, cond, batched_number, transformer_options)


def prepare_hint(control: ControlBase, x_noisy: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`cond_hint_original` resized (center crop, `upscale_algorithm`) to the latent's pixel
    size, preprocessed, VAE-encoded for latent-hint controls, extra channels appended; on
    x's device in `dtype`."""
    ratio = control.compression_ratio
    if control.vae is not None:
        ratio *= getattr(control.vae, "downscale_ratio", None) or control.vae.downscale
    elif control.latent_format is not None:
        raise ValueError("This ControlNet needs a VAE but none was provided: use an apply node with a VAE input "
                         "and connect one")
    hint = upscale(control.cond_hint_original, x_noisy.shape[3] * ratio, x_noisy.shape[2] * ratio,
                   control.upscale_algorithm, "center")
    hint = control.preprocess_image(hint)
    if control.vae is not None:
        hint = control.vae.encode(hint.movedim(1, -1))
    if control.latent_format is not None:
        hint = control.latent_format.process_in(hint)
    if control.extra_concat_orig:
        extra = [upscale(c.to(hint.device), hint.shape[3], hint.shape[2], control.upscale_algorithm, "center")
                 for c in control.extra_concat_orig]
        hint = torch.cat([hint] + [e.repeat(-(-hint.shape[0] // e.shape[0]), 1, 1, 1)[: hint.shape[0]]
                                   for e in extra], dim=1)
    return hint.to(device=x_noisy.device, dtype=dtype)


def hint_matches(hint: torch.Tensor | None, x_noisy: torch.Tensor, ratio: int) -> bool:
    """Whether a prepared hint fits this latent's pixel size (else it is prepared again)."""
    return hint is not None and hint.shape[2] == x_noisy.shape[2] * ratio and hint.shape[3] == x_noisy.shape[3] * ratio
