"""The sampler registry: name -> `sample_<name>(denoise, x, sigmas, *, extra, callback,
noise) -> x`. Only implemented names are listed, in ComfyUI's UI order (COMPAT 7.1)."""

from __future__ import annotations

from typing import Callable

import torch

from comfy_core.sampling import samplers_dpmpp as dpmpp
from comfy_core.sampling import samplers_euler as euler
from comfy_core.sampling import samplers_step as step
from comfy_core.sampling import samplers_unipc as unipc

Sampler = Callable[..., torch.Tensor]

SAMPLERS: dict[str, Sampler] = {
    "euler": euler.sample_euler,
    "euler_cfg_pp": euler.sample_euler_cfg_pp,
    "euler_ancestral": euler.sample_euler_ancestral,
    "euler_ancestral_cfg_pp": euler.sample_euler_ancestral_cfg_pp,
    "heun": euler.sample_heun,
    "heunpp2": euler.sample_heunpp2,
    "dpm_2": euler.sample_dpm_2,
    "dpm_2_ancestral": euler.sample_dpm_2_ancestral,
    "lms": euler.sample_lms,
    "dpmpp_2s_ancestral": dpmpp.sample_dpmpp_2s_ancestral,
    "dpmpp_sde": dpmpp.sample_dpmpp_sde,
    "dpmpp_sde_gpu": dpmpp.sample_dpmpp_sde_gpu,
    "dpmpp_2m": dpmpp.sample_dpmpp_2m,
    "dpmpp_2m_cfg_pp": dpmpp.sample_dpmpp_2m_cfg_pp,
    "dpmpp_2m_sde": dpmpp.sample_dpmpp_2m_sde,
    "dpmpp_2m_sde_gpu": dpmpp.sample_dpmpp_2m_sde_gpu,
    "dpmpp_2m_sde_heun": dpmpp.sample_dpmpp_2m_sde_heun,
    "dpmpp_2m_sde_heun_gpu": dpmpp.sample_dpmpp_2m_sde_heun_gpu,
    "dpmpp_3m_sde": dpmpp.sample_dpmpp_3m_sde,
    "dpmpp_3m_sde_gpu": dpmpp.sample_dpmpp_3m_sde_gpu,
    "ddpm": step.sample_ddpm,
    "lcm": step.sample_lcm,
    # DDIM with η = 0 is Euler on the probability-flow ODE (Karras et al. 2022, sec. 4);
    # it differs only in the inpainting noise (RANDOM_INPAINT_NOISE).
    "ddim": euler.sample_euler,
    "uni_pc": unipc.sample_uni_pc,
    "uni_pc_bh2": unipc.sample_uni_pc_bh2,
}
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)

# Samplers whose schedule is computed for N+1 steps with the second-to-last σ dropped.
DISCARD_PENULTIMATE_SIGMA: frozenset[str] = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})
# Samplers whose inpainting blend uses fresh noise seeded seed+1 instead of the initial noise.
RANDOM_INPAINT_NOISE: frozenset[str] = frozenset({"ddim"})


def get_sampler(name: str) -> Sampler:
    """The sampler function called `name`; a clear error names the valid choices."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; expected one of {list(SAMPLERS)}") from None
