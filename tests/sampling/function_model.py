"""MODEL values around plain functions `fn(x_in, timestep, context, y) -> eps`: a real
BaseModel and ModelPatcher whose network is an analytic function, so the guider's and
sampler's rules can be checked against hand computations."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
from torch import nn

from comfy_core.loading.checkpoint import model_patcher
from comfy_core.models.family import SD15, ModelFamily
from comfy_core.sampling.model_sampling import ModelSampling

MS = ModelSampling()
SD15_INPAINT = dataclasses.replace(SD15, unet=dataclasses.replace(SD15.unet, in_channels=9))


class FunctionUNet(nn.Module):
    """The UNet's call signature around `fn(x, timestep, context, y)`."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: Any = None, y: Any = None,
                control: Any = None, transformer_options: Any = None, **kwargs: Any) -> torch.Tensor:
        return self.fn(x, timesteps, context, y)


def function_model(fn: Callable[..., torch.Tensor], family: ModelFamily = SD15, device: str = "cpu") -> Any:
    """A MODEL (ModelPatcher over a BaseModel of `family`) computing with `fn`."""
    return model_patcher(FunctionUNet(fn), family, torch.device(device), torch.device(device))


def denoised_by_hand(fn: Callable[..., torch.Tensor], x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor,
                     y: torch.Tensor | None = None, concat: torch.Tensor | None = None) -> torch.Tensor:
    """D(x, σ) of one entry written out: eps-prediction around `fn` (Karras et al. 2022)."""
    s = sigma.reshape(-1, 1, 1, 1)
    x_in = x / (s**2 + 1) ** 0.5
    if concat is not None:
        x_in = torch.cat([x_in, concat], dim=1)
    return x - fn(x_in, MS.timestep(sigma), context, y).float() * s
