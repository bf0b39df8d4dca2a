"""`comfy.diffusers_convert`: diffusers/Hugging Face key names to the original SD layout,
over our key maps (comfy_core.loading.keymaps)."""

from __future__ import annotations

import torch

from comfy_core.loading import keymaps


def convert_vae_state_dict(vae_state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers AutoencoderKL state dict with the original (ldm) VAE key names."""
    return keymaps.diffusers_vae_to_ldm(vae_state_dict)


def convert_text_enc_state_dict_v20(text_enc_dict: dict[str, torch.Tensor],
                                    prefix: str = "") -> dict[str, torch.Tensor]:
    """The keys under `prefix` of a Hugging Face OpenCLIP text encoder (SD2.x) in
    OpenCLIP's own layout."""
    selected = {k[len(prefix):]: v for k, v in text_enc_dict.items() if k.startswith(prefix)}
    return keymaps.hf_to_openclip(selected)


def convert_text_enc_state_dict(text_enc_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SD1.x's CLIP text encoder keeps the Hugging Face names."""
    return text_enc_dict
