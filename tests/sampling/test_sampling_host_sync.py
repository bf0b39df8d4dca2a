"""The sampling loop never waits on the device: no host reads of device tensors (`.item()`,
`if tensor:`, `float(tensor)`, `.cpu()`) and no host-to-device copies between steps, so a
GPU never idles while the host catches up.

The loop runs on the meta device, where tensors have no data: any read raises, and a
recorder catches host-to-device copies from the first step's callback on (the set-up
before the loop moves the conditioning to the device once). As `ksampler.sample` sets it
up, σ stays on the host (0-dim CPU tensors mix with device tensors as plain scalars) and
the latent, noise, conditioning, inpainting mask and a real (tiny) UNet live on the device.
Stochastic samplers get a noise source that stays on the device (a generator or a Brownian
tree cannot draw meta numbers); the CUDA cases check the real ones with CUDA's own detector
(`bench/run_gpu.sh checks`).
"""

from __future__ import annotations

import dataclasses
import functools
from types import SimpleNamespace

import pytest
import torch
from torch.overrides import TorchFunctionMode

from comfy_core.models.family import SD15
from comfy_core.models.unet import UNetModel
from comfy_core.sampling.conditioning import from_comfy
from comfy_core.sampling.ksampler import run_sampler, schedule_sigmas
from comfy_core.sampling.model_call import model_sampling_of, unet_callable
from comfy_core.sampling.samplers import SAMPLER_NAMES, get_sampler

META = torch.device("meta")


def _tiny_unet_config():
    return dataclasses.replace(SD15.unet, model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1),
                               transformer_depth=(1, 1), transformer_depth_output=(1, 1, 1, 1), context_dim=32)


@pytest.fixture(scope="module")
def model() -> SimpleNamespace:
    unet_cfg = _tiny_unet_config()
    with META:
        unet = UNetModel(unet_cfg).eval()
    return SimpleNamespace(family=dataclasses.replace(SD15, unet=unet_cfg), unet=unet, device=META,
                           compute_dtype=torch.float32, model_sampling=None)


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
    cond = from_comfy([[torch.empty(1, 77, 32), {}]])
    spec = get_sampler(sampler_name)
    sampler = functools.partial(spec.fn, noise=functools.partial(_device_noise, like=latent), **spec.options_for(ms))
    steps, copies = [], HostToDeviceCopies()

    def on_step(step: int, total: int, x0: torch.Tensor) -> None:
        steps.append(step)
        copies.armed = True

    with copies:
        out = run_sampler(sampler, unet_callable(model), ms, cond, cond, latent, torch.empty_like(latent), sigmas,
                          seed=0, cfg=7.0, scale_factor=0.18215, callback=on_step, noise_mask=torch.ones(1, 64, 64))
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
    unet_cfg = _tiny_unet_config()
    with cuda:
        unet = UNetModel(unet_cfg).eval()
    model = SimpleNamespace(family=dataclasses.replace(SD15, unet=unet_cfg), unet=unet, device=cuda,
                            compute_dtype=torch.float32, model_sampling=None)
    ms = model_sampling_of(model)
    latent = torch.zeros(2, 4, 8, 8, device=cuda)
    cond = from_comfy([[torch.randn(1, 77, 32), {}]])
    noise = torch.randn(2, 4, 8, 8).to(cuda)

    def arm(step: int, total: int, x0: torch.Tensor) -> None:
        torch.cuda.set_sync_debug_mode("error")

    try:
        out = run_sampler(get_sampler(sampler_name).fn, unet_callable(model), ms, cond, cond, latent, noise,
                          schedule_sigmas(ms, "karras", sampler_name, 6), seed=0, cfg=7.0, scale_factor=0.18215,
                          callback=arm)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(out).all()
