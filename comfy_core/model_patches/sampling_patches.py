"""Patches of the sampling loop itself: Differential Diffusion's denoise-mask function and
the torch.compile wrapper of TorchCompileModel."""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger(__name__)


def differential_threshold(model_sampling: Any, sigma: torch.Tensor, step_sigmas: torch.Tensor) -> torch.Tensor:
    """How far sampling has got, as 1 at the first σ down to 0 at the last (or σ_min),
    measured in the model's timesteps."""
    sigma_to = model_sampling.sigma_min
    if step_sigmas[-1] > sigma_to:
        sigma_to = step_sigmas[-1]
    ts_from, ts_to = model_sampling.timestep(step_sigmas[0]), model_sampling.timestep(sigma_to)
    return (model_sampling.timestep(sigma[0]) - ts_to) / (ts_from - ts_to)


class DifferentialDiffusion:
    """A `denoise_mask_function` (Levin & Fried 2023, "Differential Diffusion: Giving Each
    Pixel Its Strength"): at each step the soft inpainting mask becomes binary, keeping
    the positions whose value is at least the remaining fraction of sampling; with
    strength < 1 the soft mask is mixed back in."""

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength

    def __call__(self, sigma: torch.Tensor, denoise_mask: torch.Tensor, extra_options: dict) -> torch.Tensor:
        model_sampling = extra_options["model"].inner_model.model_sampling
        threshold = differential_threshold(model_sampling, sigma, extra_options["sigmas"])
        binary = (denoise_mask >= threshold).to(denoise_mask.dtype)
        if self.strength and self.strength < 1:
            return self.strength * binary + (1 - self.strength) * denoise_mask
        return binary


def skip_transformer_options_guards(guard_entries: list) -> list[bool]:
    """torch.compile guard filter: no recompiles for the per-call transformer options."""
    return ["transformer_options" not in entry.name for entry in guard_entries]


class TorchCompileWrapper:
    """APPLY_MODEL wrapper: the diffusion model runs as `torch.compile(diffusion_model,
    backend)` for the call (compiled once per module and kept); the model's attribute is
    restored afterwards, so the patcher, its weights and state dict keys are untouched."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.compiled: dict[int, Any] = {}

    def compiled_for(self, module: torch.nn.Module) -> Any:
        found = self.compiled.get(id(module))
        if found is None or found._orig_mod is not module:
            log.info("compiling the diffusion model with torch.compile (backend %s); the first step is slow",
                     self.backend)
            found = torch.compile(module, backend=self.backend,
                                  options={"guard_filter_fn": skip_transformer_options_guards})
            self.compiled[id(module)] = found
        return found

    def __call__(self, executor: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        model = executor.class_obj
        original = model.diffusion_model
        compiled = self.compiled_for(original)
        model._modules["diffusion_model"] = compiled
        try:
            return executor(*args, **kwargs)
        finally:
            model._modules["diffusion_model"] = original
