"""Where the sampling loop runs (COMPAT 9.2): on the model's device, with step noise from
that device's generator, and the LATENT handed back on the CPU. The CUDA cases are the
GPU correctness checks of `bench/run_gpu.sh checks`; on a CPU-only machine they skip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from function_model import MS, function_model

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.sampling.ksampler import sample, schedule_sigmas
from comfy_core.sampling.noise import prepare_noise
from comfy_core.sampling.samplers import SAMPLER_NAMES
from tests.fixtures.checkpoints import make_tiny_checkpoint

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]
G = torch.Generator().manual_seed(0)
POS = [[torch.randn(1, 77, 8, generator=G), {}]]
NEG = [[torch.randn(1, 77, 8, generator=G), {}]]
MASK = torch.zeros(1, 64, 64)
MASK[:, 16:48, 16:48] = 1.0
# No device-drawn noise (none at all, or a CPU Brownian tree): the same numbers on every
# device, up to float rounding.
SAME_ON_EVERY_DEVICE = ("euler", "euler_cfg_pp", "heun", "heunpp2", "dpm_2", "lms", "dpmpp_sde", "dpmpp_2m",
                        "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "ddim", "uni_pc",
                        "uni_pc_bh2")


class DeviceRecordingUNet:
    """eps = 0.1·x + mean(context); records the device of every input it is given."""

    def __init__(self) -> None:
        self.devices: set[str] = set()

    def __call__(self, x, t, context, y):
        self.devices |= {x.device.type, t.device.type, context.device.type}
        return 0.1 * x + context.mean(dim=(1, 2)).view(-1, 1, 1, 1)


def _run(device: str, sampler_name: str, latent: dict, unet=None, seed: int = 5) -> dict:
    return sample(function_model(unet or DeviceRecordingUNet(), device=device), POS, NEG, latent, seed=seed,
                  steps=4, cfg=6.0, sampler_name=sampler_name, scheduler="karras")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sampler_name", SAMPLER_NAMES)
def test_every_sampler_runs_on_the_model_device_and_returns_to_the_cpu(device, sampler_name):
    unet = DeviceRecordingUNet()
    latent = {"samples": torch.zeros(1, 4, 8, 8), "noise_mask": MASK}
    out = _run(device, sampler_name, latent, unet)
    assert unet.devices == {device}
    assert out["samples"].device.type == "cpu" and out["samples"].shape == (1, 4, 8, 8)
    assert torch.isfinite(out["samples"]).all()
    assert out["noise_mask"] is MASK


@CUDA
@pytest.mark.parametrize("sampler_name", SAME_ON_EVERY_DEVICE)
def test_cuda_matches_cpu_without_device_noise(sampler_name):
    latent = {"samples": torch.zeros(2, 4, 8, 8)}
    torch.testing.assert_close(_run("cuda", sampler_name, latent)["samples"],
                               _run("cpu", sampler_name, latent)["samples"], atol=1e-4, rtol=1e-4)


@CUDA
def test_cuda_ancestral_step_noise_comes_from_a_cuda_generator_seeded_with_the_seed():
    """ComfyUI's rule: on CUDA the step noise generator takes `seed` itself (CPU: seed + 1)."""
    seed, steps, cfg = 7, 4, 6.0
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    got = _run("cuda", "euler_ancestral", latent, seed=seed)["samples"]

    unet, dev = DeviceRecordingUNet(), torch.device("cuda")
    sigmas = schedule_sigmas(MS, "karras", "euler_ancestral", steps).to(dev)
    x = prepare_noise(latent["samples"], seed).to(dev) * torch.sqrt(1.0 + sigmas[0] ** 2)
    gen = torch.Generator(device=dev).manual_seed(seed)
    pos, neg = POS[0][0].to(dev), NEG[0][0].to(dev)
    for i in range(steps):
        s = sigmas[i]

        def denoised(context):
            eps = unet(x / torch.sqrt(s**2 + 1), None, context, None)
            return x - eps * s

        d_cond, d_uncond = denoised(pos), denoised(neg)
        den = d_uncond + (d_cond - d_uncond) * cfg
        s_next = sigmas[i + 1]
        s_up = torch.minimum(s_next, (s_next**2 * (s**2 - s_next**2) / s**2) ** 0.5)
        s_down = (s_next**2 - s_up**2) ** 0.5
        if float(s_down) == 0:
            x = den
            continue
        x = x + (x - den) / s * (s_down - s)
        x = x + torch.randn(x.shape, generator=gen, device=dev) * s_up
    torch.testing.assert_close(got, (x / 0.18215).cpu(), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(got, _run("cpu", "euler_ancestral", latent, seed=seed)["samples"])


@pytest.fixture(scope="module")
def sd15_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint("sd15", tmp_path_factory.mktemp("ckpt"))


@CUDA
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float16, 0.02), (torch.bfloat16, 0.08)])
def test_cuda_half_precision_unet_stays_close_to_fp32(sd15_path, dtype, tolerance):
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    pos, neg = [[torch.randn(1, 77, 32, generator=G), {}]], [[torch.zeros(1, 77, 32), {}]]

    def run(unet_dtype: torch.dtype) -> torch.Tensor:
        model = load_checkpoint(sd15_path, dtype=unet_dtype).model
        model.load_device = torch.device("cuda")
        out = sample(model, pos, neg, latent, seed=3, steps=6, cfg=7.0, sampler_name="euler",
                     scheduler="normal")["samples"]
        assert model.device.type == "cuda" and model.model.compute_dtype() == unet_dtype
        return out

    reference, half = run(torch.float32), run(dtype)
    assert torch.isfinite(half).all()
    assert float((half - reference).norm() / reference.norm()) < tolerance
