"""The CLIP_VISION value with ComfyUI's `comfy.clip_vision.ClipVisionModel` interface
(COMPAT-PLUGINS 3.19), because packs such as IPAdapter call `encode_image(image, crop=True)`
and read `image_embeds`, `penultimate_hidden_states` and `last_hidden_state`, or call
`model(pixel_values=..., intermediate_output=-2)` themselves.

The encoder computes in float32 whatever its storage dtype, on the text encoders' device
(ComfyUI's choice), and loads itself through the memory manager before encoding.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from comfy_core.memory.current import load_models
from comfy_core.models.clip_vision import CLIP_MEAN, CLIP_STD, ClipVisionModule, clip_preprocess
from comfy_core.models.patcher import ModelPatcher


class Output:
    """Attribute bag that also answers `out["key"]` (ComfyUI's `clip_vision.Output`)."""

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: str) -> bool:
        return hasattr(self, key)


class ClipVisionModel:
    """CLIP_VISION: `model` (the module), `patcher`, `load_device`, `image_size`,
    `image_mean`, `image_std`, `encode_image`."""

    def __init__(self, module: ClipVisionModule, load_device: torch.device | str | None = None,
                 offload_device: torch.device | str | None = None) -> None:
        self.model = module
        self.patcher = ModelPatcher(module, load_device, offload_device)
        self.patcher.set_model_compute_dtype(torch.float32)
        self.load_device = self.patcher.load_device
        self.dtype = self.patcher.model_dtype()
        self.image_size = module.config.image_size
        self.image_mean, self.image_std = list(CLIP_MEAN), list(CLIP_STD)
        self.return_all_hidden_states = False

    def load_sd(self, sd: Mapping[str, torch.Tensor]) -> Any:
        return self.model.load_state_dict(sd, strict=False)

    def get_sd(self) -> dict[str, torch.Tensor]:
        """transformers-layout state dict (what a saved clip_vision file holds)."""
        return self.model.state_dict()

    def encode_image(self, image: torch.Tensor, crop: bool = True) -> Output:
        """IMAGE (B, H, W, C) -> Output with `last_hidden_state` (B, T, D), `image_embeds`
        (B, P), `penultimate_hidden_states` (B, T, D) and `mm_projected` (None), float32 on
        the CPU."""
        load_models([self.patcher])
        device = self.patcher.device
        pixels = clip_preprocess(image.to(device).float(), self.image_size, tuple(self.image_mean),
                                 tuple(self.image_std), crop)
        with torch.no_grad():
            last, penultimate, embeds, projected = self.model(pixel_values=pixels, intermediate_output=-2)
        out = Output()
        out["last_hidden_state"] = last.float().cpu()
        out["image_embeds"] = embeds.float().cpu()
        out["penultimate_hidden_states"] = penultimate.float().cpu()
        out["mm_projected"] = projected
        return out
