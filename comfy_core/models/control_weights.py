"""Weights of control networks: the patcher the memory manager loads (ComfyUI's
`control_model_wrapped`), and the assembly of a Control-LoRA's network from the sampled
UNet plus the file's deltas."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from comfy_core.models.patcher import ModelPatcher

# Control-LoRA files mark themselves with this key; it is not a weight.
CONTROL_LORA_MARKER = "lora_controlnet"
# Layers of a ControlNet that are copies of the UNet (the rest are its own).
SHARED_WITH_UNET = ("time_embed.", "label_emb.", "input_blocks.", "middle_block.")


def wrap_control_model(module: nn.Module, load_device: Any) -> ModelPatcher:
    """ComfyUI's `control_model_wrapped` for `module`: a patcher resting where the weights
    are now, running on `load_device` (default: there too)."""
    first = next(module.parameters(), None)
    offload = torch.device("cpu") if first is None else first.device
    return ModelPatcher(module, load_device if load_device is not None else offload, offload)


def control_lora_state(unet_state: Mapping[str, torch.Tensor],
                       control_weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A full ControlNet state dict: the UNet's encoder, middle block and embeddings, each
    weight with a LoRA pair in the file replaced by W + up @ down (flattened to 2-D, the
    result reshaped to W), then the file's own tensors (hint encoder, zero convs, replaced
    norms and biases) on top. Deltas are added in float32, cast back to W's dtype."""
    state = {k: v for k, v in unet_state.items() if k.startswith(SHARED_WITH_UNET)}
    for key, tensor in control_weights.items():
        if key == CONTROL_LORA_MARKER or key.endswith((".up", ".down")):
            continue
        base = state.get(key)
        state[key] = tensor.to(base) if base is not None else tensor
    for key in control_weights:
        if not key.endswith(".up"):
            continue
        layer = key[: -len(".up")]
        weight = state.get(layer + ".weight")
        down = control_weights.get(layer + ".down")
        if weight is None or down is None:
            raise KeyError(f"Control-LoRA pair {layer}.up/.down has no weight {layer}.weight in the UNet")
        up = control_weights[key].to(weight.device, torch.float32).flatten(start_dim=1)
        delta = (up @ down.to(weight.device, torch.float32).flatten(start_dim=1)).reshape(weight.shape)
        state[layer + ".weight"] = (weight.float() + delta).to(weight.dtype)
    return state
