"""Storage dtypes and resting device for loaded weights, from the app's memory manager
(COMPAT 10.3): UNet fp16/bf16/fp32 by device, text encoders stored fp16 and computed in
fp32, the VAE by its own rule. Without a manager everything is float32 on the CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from comfy_core.memory import ModelKind

# UNETLoader's weight_dtype choices (COMPAT 7) -> storage dtype; "default" asks the manager.
UNET_WEIGHT_DTYPES: dict[str, torch.dtype | None] = {
    "default": None,
    "fp8_e4m3fn": torch.float8_e4m3fn,
    "fp8_e4m3fn_fast": torch.float8_e4m3fn,
    "fp8_e5m2": torch.float8_e5m2,
}


@dataclass(frozen=True)
class LoadOptions:
    """Keyword arguments for `load_checkpoint` and friends."""

    unet: torch.dtype = torch.float32
    clip: torch.dtype = torch.float32
    vae: torch.dtype = torch.float32
    unet_compute: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")  # where weights rest
    unet_device: torch.device = torch.device("cpu")  # where each part computes (its load device)
    clip_device: torch.device = torch.device("cpu")
    vae_device: torch.device = torch.device("cpu")

    def checkpoint_kwargs(self) -> dict[str, Any]:
        return {"dtype": self.unet, "clip_dtype": self.clip, "vae_dtype": self.vae, "device": self.device,
                "load_devices": self.load_devices()}

    def load_devices(self) -> "LoadDevices":
        return LoadDevices(self.unet_device, self.clip_device, self.vae_device)


@dataclass(frozen=True)
class LoadDevices:
    """Where the UNet, the text encoders and the VAE of a checkpoint compute."""

    unet: torch.device = torch.device("cpu")
    clip: torch.device = torch.device("cpu")
    vae: torch.device = torch.device("cpu")


def load_options(memory: Any, device: str = "default") -> LoadOptions:
    """Dtypes and offload device chosen by `memory` (a MemoryManager, or None: CPU float32).
    `device="cpu"` keeps text encoders on the CPU (CLIPLoader's optional input)."""
    if memory is None:
        return LoadOptions()
    unet = memory.dtype_for(ModelKind.UNET)
    clip_device = torch.device("cpu") if device == "cpu" else memory.device_for(ModelKind.TEXT_ENCODER)
    clip_kind = memory.dtype_for(ModelKind.TEXT_ENCODER, clip_device)
    return LoadOptions(
        unet=unet.storage,
        clip=clip_kind.storage,
        vae=memory.dtype_for(ModelKind.VAE).storage,
        unet_compute=unet.compute,
        device=memory.offload_device,
        unet_device=memory.device,
        clip_device=clip_device,
        vae_device=memory.device_for(ModelKind.VAE),
    )


def unet_dtypes(options: LoadOptions, weight_dtype: str) -> tuple[torch.dtype, torch.dtype | None]:
    """(storage, compute or None) for UNETLoader: fp8 weights compute in the manager's
    UNet dtype (cast per layer); "default" keeps the manager's choice."""
    if weight_dtype not in UNET_WEIGHT_DTYPES:
        raise ValueError(f"unknown weight_dtype {weight_dtype!r}; expected one of {list(UNET_WEIGHT_DTYPES)}")
    storage = UNET_WEIGHT_DTYPES[weight_dtype]
    if storage is None:
        return options.unet, None
    return storage, options.unet_compute if options.unet_compute.itemsize > 1 else torch.float32
