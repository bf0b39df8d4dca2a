"""KSampler over a MODEL value: the family's model sampling (cached on the value), the UNet
as the raw callable the guider wants, the latent format's scale factor and ADM kind.

This package never imports model classes: a MODEL is anything shaped like `DiffusionModel`
(`comfy_core.models.patcher.ModelHandle` is one). The caller loads it first (through the
memory manager) so `device` and `compute_dtype` say where the UNet runs.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import torch

from comfy_core.sampling.guider import UNet
from comfy_core.sampling.ksampler import ProgressCallback, sample
from comfy_core.sampling.model_sampling import ModelSampling, SamplingConfig

# Working memory of one UNet call per latent cell and dtype byte (ComfyUI's SD estimate:
# 0.01 MiB per cell-byte); the cond and uncond halves of a CFG batch both count.
UNET_BYTES_PER_CELL_BYTE = 0.01 * 1024 * 1024


class DiffusionModel(Protocol):
    """What sampling reads from a MODEL value."""

    family: Any  # prediction, zsnr, latent.scale_factor, adm, inpaint
    unet: torch.nn.Module
    model_sampling: Any
    device: torch.device
    compute_dtype: torch.dtype


def model_sampling_of(model: DiffusionModel) -> ModelSampling:
    """The family's ModelSampling (eps or v, zsnr), built once and kept on the value."""
    family = model.family
    ms = model.model_sampling
    wanted = SamplingConfig(prediction=family.prediction, zsnr=family.zsnr)
    if not isinstance(ms, ModelSampling) or ms.config != wanted:
        ms = ModelSampling(wanted)
        model.model_sampling = ms
    return ms


def unet_callable(model: DiffusionModel) -> UNet:
    """(x_in, timestep, context, y) -> network output as float32 on x's device; inputs are
    moved to the UNet's device and cast to its compute dtype. Inpainting UNets expect x_in
    to carry the concat channels already (the guider appends them)."""
    in_channels = model.family.unet.in_channels

    def call(x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if x.shape[1] != in_channels:
            raise ValueError(f"{model.family.name} UNet takes {in_channels} input channels, got {x.shape[1]}"
                             + (" (inpainting models need the mask + masked-latent concat)" if model.family.inpaint
                                else ""))
        device, dtype = model.device, model.compute_dtype
        with torch.no_grad():
            out = model.unet(x.to(device, dtype), t.to(device), context.to(device, dtype),
                             None if y is None else y.to(device, dtype))
        return out.float().to(x.device)

    return call


def working_memory(model: DiffusionModel, latent_shape: Sequence[int], cfg: float, needs_uncond: bool = False) -> int:
    """Bytes one sampling step needs besides the weights (for `ensure_loaded`); the negative
    is evaluated unless cfg is 1 and the sampler does not read it."""
    batch = int(latent_shape[0]) * (1 if abs(cfg - 1.0) < 1e-9 and not needs_uncond else 2)
    cells = batch * int(latent_shape[-2]) * int(latent_shape[-1])
    return int(cells * model.compute_dtype.itemsize * UNET_BYTES_PER_CELL_BYTE)


def sample_model(
    model: DiffusionModel,
    positive: Sequence[Any],
    negative: Sequence[Any],
    latent: dict,
    *,
    seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    denoise: float = 1.0,
    start_step: int | None = None,
    last_step: int | None = None,
    force_full_denoise: bool = False,
    add_noise: bool = True,
    callback: ProgressCallback | None = None,
    wrap_unet: Callable[[UNet], UNet] | None = None,
) -> dict:
    """KSampler / KSamplerAdvanced on a loaded MODEL; returns a new LATENT dict.
    `wrap_unet` wraps the raw UNet call (e.g. memory.BatchSplitter for OOM recovery)."""
    unet = unet_callable(model)
    return sample(
        unet if wrap_unet is None else wrap_unet(unet), model_sampling_of(model), positive, negative, latent,
        seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
        denoise=denoise, start_step=start_step, last_step=last_step,
        force_full_denoise=force_full_denoise, add_noise=add_noise,
        scale_factor=model.family.latent.scale_factor, adm=model.family.adm, callback=callback,
        inpaint=model.family.inpaint, ip2p=model.family.ip2p, device=model.device,
    )
