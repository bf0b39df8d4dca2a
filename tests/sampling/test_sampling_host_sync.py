"""The sampling loop never waits on the device: no host reads of device tensors (`.item()`,
`if tensor:`, `float(tensor)`, `.cpu()`) and no host-to-device copies between steps, so a
GPU never idles while the host catches up.

The loop runs on the meta device, where tensors have no data: any read raises, and a
recorder catches host-to-device copies from the first step's callback on (the set-up
before the loop moves the conditioning to the device once). As the guider sets it up, σ
stays on the host (0-dim CPU tensors mix with device tensors as plain scalars) and the
latent, noise, conditioning, inpainting mask and a real (tiny) UNet live on the device.
Stochastic samplers get a noise source that stays on the device (a generator or a Brownian
tree cannot draw meta numbers); the CUDA cases check the real ones with CUDA's own detector
(`bench/run_gpu.sh checks`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode

from comfy_core.loading.checkpoint import model_patcher
from comfy_core.models.family import SD15
from comfy_core.models.unet import UNetModel
from comfy_core.patching.model_options import create_model_options_clone
from comfy_core.sampling.guider import CFGGuider, prepare_mask
from comfy_core.sampling.ksampler import schedule_sigmas
from comfy_core.sampling.model_call import model_sampling_of
from comfy_core.sampling.sampler_value import SamplerValue, kdiffusion_function
from comfy_core.sampling.samplers import SAMPLER_NAMES

META = torch.device("meta")


def _tiny_unet_config():
    return dataclasses.replace(SD15.unet, model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1),
                               transformer_depth=(1, 1), transformer_depth_output=(1, 1, 1, 1), context_dim=32)


def _model(device: torch.device) -> Any:
    """A MODEL value around a tiny real UNet built (and resting) on `device`."""
    unet_cfg = _tiny_unet_config()
    with device:
        unet = UNetModel(unet_cfg).eval()
    return model_patcher(unet, dataclasses.replace(SD15, unet=unet_cfg), device, device)


@pytest.fixture(scope="module")
def model() -> Any:
    return _model(META)


def _run_loop(model: Any, sampler: SamplerValue, sigmas: torch.Tensor, latent: torch.Tensor, noise: torch.Tensor,
              mask: torch.Tensor | None, callback: Any) -> torch.Tensor:
    """What `CFGGuider.sample` runs once the model is loaded: the conds resolved on the
    device, then the SAMPLER with the guider as its model."""
    guider = CFGGuider(model)
    cond = [[torch.empty(1, 77, 32) if latent.is_meta else torch.randn(1, 77, 32), {}]]
    guider.set_conds(cond, cond)
    guider.set_cfg(7.0)
    guider.inner_model = model.model
    mask = None if mask is None else prepare_mask(mask, latent.shape, latent.device)
    guider.conds = {name: list(entries) for name, entries in guider.original_conds.items()}  # as `sample` does
    guider.conds = guider.process_conds(latent, mask, latent.device)
    extra_args = {"model_options": create_model_options_clone(model.model_options), "seed": 0}
    return sampler.sample(guider, sigmas, extra_args, callback, noise, latent, mask)


class HostToDeviceCopies(TorchFunctionMode):
    """Records copies of host data onto the meta device once `armed`."""

    COPIES = {torch.Tensor.to, torch.Tensor.copy_, torch.as_tensor, torch.tensor}

    def __init__(self) -> None:
        super().__init__()
        self.armed, self.seen = False, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.armed and func in self.COPIES and isinstance(out, torch.Tensor) and out.is_meta:
            source = args[1] if func is torch.Tensor.copy_ else args[0]
            if not (isinstance(source, torch.Tensor) and source.is_meta):
                self.seen.append(func.__name__)
        return out


def _device_noise(sigma: torch.Tensor, sigma_next: torch.Tensor, *, like: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(like)


# DPM-Solver's steps are not the schedule's: its callback comes once per solver step.
OWN_STEPS = ("dpm_fast",)
# The adaptive solver picks each step from the error, which it has to read on the host.
READS_THE_ERROR = ("dpm_adaptive",)


@pytest.mark.parametrize("sampler_name", [n for n in SAMPLER_NAMES if n not in READS_THE_ERROR])
def test_sampling_loop_makes_no_host_device_round_trips(model, sampler_name):
    ms = model_sampling_of(model)
    sigmas = schedule_sigmas(ms, "karras", sampler_name, 4)  # on the host, as sample() passes it
    latent = torch.empty(2, 4, 8, 8, device=META)
    sampler = SamplerValue(kdiffusion_function(sampler_name),
                           {"noise_sampler": functools.partial(_device_noise, like=latent)})
    steps, copies = [], HostToDeviceCopies()

    def on_step(step: int, x0: torch.Tensor, x: torch.Tensor, total: int) -> None:
        steps.append(step + 1)
        copies.armed = True

    with copies:
        out = _run_loop(model, sampler, sigmas, latent, torch.empty_like(latent), torch.ones(1, 64, 64), on_step)
        copies.armed = False
    assert out.device == META and out.shape == (2, 4, 8, 8)
    if sampler_name not in OWN_STEPS:
        assert steps == list(range(1, len(sigmas)))
    assert copies.seen == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("sampler_name", ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde_gpu"])
def test_cuda_steps_never_synchronize(sampler_name):
    """CUDA's own detector, armed from the first step's callback until the sampler returns
    (the set-up before the loop copies the conditioning to the device once, which waits)."""
    cuda = torch.device("cuda")
    model = _model(cuda)
    ms = model_sampling_of(model)
    latent = torch.zeros(2, 4, 8, 8, device=cuda)
    noise = torch.randn(2, 4, 8, 8).to(cuda)

    def arm(step: int, x0: torch.Tensor, x: torch.Tensor, total: int) -> None:
        torch.cuda.set_sync_debug_mode("error")

    try:
        out = _run_loop(model, SamplerValue.builtin(sampler_name), schedule_sigmas(ms, "karras", sampler_name, 6),
                        latent, noise, None, arm)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(out).all()
