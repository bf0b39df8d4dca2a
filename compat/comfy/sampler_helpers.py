"""`comfy.sampler_helpers`: the helpers around a sampling run that packs call
(COMPAT-PLUGINS 3.5): the noise mask in latent shape and the extra models (ControlNets)
a run's conditioning brings along."""

from __future__ import annotations

from typing import Any, Iterable

import torch

from comfy_core.sampling.conditioning import CondEntry
from comfy_core.sampling.guider import convert_cond  # noqa: F401 (cond lists -> typed entries, dict-like)
from comfy_core.sampling.ksampler import reshape_mask


def prepare_mask(noise_mask: torch.Tensor, shape: tuple, device: Any) -> torch.Tensor:
    """A mask `[B|1, H, W]` resized (bilinear) and repeated to the latent's `[B, C, h, w]`."""
    return reshape_mask(noise_mask, shape).to(device)


def _cond_options(conds: Any) -> Iterable[dict]:
    """The option dicts of conditionings given as {name: list} or lists, each entry a
    `[tensor, options]` pair, an options dict or a converted entry."""
    groups = conds.values() if isinstance(conds, dict) else [conds]
    for group in groups:
        for entry in group or []:
            if isinstance(entry, dict):
                yield entry
            elif isinstance(entry, CondEntry):  # from convert_cond
                yield entry.options
            elif isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], dict):
                yield entry[1]


def get_models_from_cond(cond: Any, model_type: str) -> list:
    """The values of `model_type` (e.g. "control") in a conditioning list."""
    return [options[model_type] for options in _cond_options(cond) if model_type in options]


def get_additional_models(conds: Any, dtype: Any) -> tuple[list, int]:
    """(models the run needs besides the UNet, their extra inference memory): each
    ControlNet chain's models."""
    controls = {id(c): c for options in _cond_options(conds)
                for c in [options.get("control")] if c is not None}
    models, memory = [], 0
    for control in controls.values():
        models += list(control.get_models())
        memory += int(control.inference_memory_requirements(dtype))
    return models, memory


def cleanup_additional_models(models: Iterable[Any]) -> None:
    for model in models:
        if hasattr(model, "cleanup"):
            model.cleanup()
