"""`comfy.model_base`: the model a MODEL patches (COMPAT-PLUGINS 3.11), our BaseModel and
its SDXL, SD 2.1 unCLIP and SD x4 upscaler subclasses under ComfyUI's names.

Packs test a model's kind with `isinstance(model.model, (SDXL, SDXLRefiner,
SDXL_instructpix2pix, ...))`. The classes of the families this server does not load (video,
SD3, Flux, Cascade, ...) are here so those tuples can be written; no model is ever one of
them, so the checks answer False, as they would in ComfyUI for an SD1.x/SDXL model.
"""

from __future__ import annotations

from typing import Any

import torch

from comfy_core.models.base_model import (SD21UNCLIP, BaseModel, Lotus, ModelConfig, ModelType, SD_X4Upscaler,
                                          SDXL, SDXLRefiner, model_sampling)

__all__ = ["BaseModel", "Lotus", "ModelConfig", "ModelType", "SD21UNCLIP", "SD_X4Upscaler", "SDXL", "SDXLRefiner",
           "convert_tensor", "model_sampling"]


def convert_tensor(extra: Any, dtype: torch.dtype | None, device: Any) -> Any:
    """A cond tensor on `device`; floating ones also in `dtype` (integer ones keep theirs)."""
    if not torch.is_tensor(extra):
        return extra
    if extra.dtype in (torch.int32, torch.int64):
        return extra.to(device)
    return extra.to(device=device, dtype=dtype)


def _family(name: str, base: type = BaseModel) -> type:
    doc = f"ComfyUI's {name} model class (a kind this server does not load: isinstance only)."
    return type(name, (base,), {"__doc__": doc, "__module__": __name__})


# Families ComfyUI 0.8.0 defines that packs name in isinstance checks.
for _name in ("SD15_instructpix2pix", "SVD_img2vid", "SV3D_u", "SV3D_p", "Stable_Zero123",
              "StableCascade_C", "StableCascade_B", "SD3", "AuraFlow", "StableAudio1",
              "HunyuanDiT", "PixArt", "Flux", "GenmoMochi", "LTXV", "HunyuanVideo", "CosmosVideo",
              "Lumina2", "WAN21", "HiDream", "Chroma", "ACEStep", "Omnigen2", "QwenImage"):
    globals()[_name] = _family(_name)
SDXL_instructpix2pix = _family("SDXL_instructpix2pix", SDXL)
del _name
