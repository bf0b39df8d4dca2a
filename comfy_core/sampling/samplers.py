"""The sampler registry: one `SamplerSpec` per name, in ComfyUI's UI order (COMPAT 7.1; the
first is the default). A spec is everything the sampling procedure needs to know about a
sampler: its function `sample_<name>(denoise, x, sigmas, *, callback, noise, seed,
**options) -> x`, the keyword options that function accepts, and three properties that
change the procedure around it."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch

from comfy_core.sampling import samplers_adams as adams
from comfy_core.sampling import samplers_dpm_solver as dpm_solver
from comfy_core.sampling import samplers_dpmpp as dpmpp
from comfy_core.sampling import samplers_euler as euler
from comfy_core.sampling import samplers_res as res
from comfy_core.sampling import samplers_sa_solver as sa
from comfy_core.sampling import samplers_seeds as seeds
from comfy_core.sampling import samplers_step as step
from comfy_core.sampling import samplers_unipc as unipc
from comfy_core.sampling.model_sampling import ModelSampling

Sampler = Callable[..., torch.Tensor]
# Keyword parameters every sampler function takes that are run inputs, not options.
RUN_INPUTS = frozenset({"callback", "noise", "seed"})


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler. `discard_penultimate_sigma`: its schedule is computed for N+1 steps and the
    second-to-last σ dropped (COMPAT 9.5). `random_inpaint_noise`: the inpainting blend uses
    fresh noise seeded seed+1 instead of the initial noise (COMPAT 9.4). `needs_uncond`: it
    reads the unconditional prediction (CFG++), which is then computed even at cfg 1.
    `model_defaults`: options whose default depends on the model (sa_solver's SDE window)."""

    fn: Sampler
    discard_penultimate_sigma: bool = False
    random_inpaint_noise: bool = False
    needs_uncond: bool = False
    model_defaults: Callable[[ModelSampling], dict[str, object]] | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options `fn` accepts (k-diffusion's names: eta, s_noise, r, ...)."""
        params = inspect.signature(self.fn).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in RUN_INPUTS)

    def defaults(self) -> dict[str, object]:
        """Each option's published default."""
        params = inspect.signature(self.fn).parameters
        return {name: params[name].default for name in self.options}

    def options_for_value(self, options: dict[str, object] | None) -> dict[str, object]:
        """`options` checked against the function's: unknown names are refused up front."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"{self.fn.__name__} takes no option {unknown}; it takes {list(self.options)}")
        return options

    def options_for(self, model_sampling: ModelSampling, options: dict[str, object] | None = None) -> dict[str, object]:
        """The options to call `fn` with on this model: the model-dependent defaults, then
        the given options over them."""
        options = self.options_for_value(options)
        base = self.model_defaults(model_sampling) if self.model_defaults is not None else {}
        return {**base, **options}


def _sa_solver_window(ms: ModelSampling) -> dict[str, object]:
    """SA-Solver's default SDE window: from 20% to 80% of the sampling process."""
    return {"tau_func": sa.tau_interval(ms.percent_to_sigma(0.2), ms.percent_to_sigma(0.8), eta=1.0)}


_DISCARD = {"discard_penultimate_sigma": True}
_UNCOND = {"needs_uncond": True}
_SA = {"model_defaults": _sa_solver_window}

SAMPLERS: dict[str, SamplerSpec] = {
    "euler": SamplerSpec(euler.sample_euler),
    "euler_cfg_pp": SamplerSpec(euler.sample_euler_cfg_pp, **_UNCOND),
    "euler_ancestral": SamplerSpec(euler.sample_euler_ancestral),
    "euler_ancestral_cfg_pp": SamplerSpec(euler.sample_euler_ancestral_cfg_pp, **_UNCOND),
    "heun": SamplerSpec(euler.sample_heun),
    "heunpp2": SamplerSpec(euler.sample_heunpp2),
    "exp_heun_2_x0": SamplerSpec(seeds.sample_exp_heun_2_x0),
    "exp_heun_2_x0_sde": SamplerSpec(seeds.sample_exp_heun_2_x0_sde),
    "dpm_2": SamplerSpec(euler.sample_dpm_2, **_DISCARD),
    "dpm_2_ancestral": SamplerSpec(euler.sample_dpm_2_ancestral, **_DISCARD),
    "lms": SamplerSpec(euler.sample_lms),
    "dpm_fast": SamplerSpec(dpm_solver.sample_dpm_fast),
    "dpm_adaptive": SamplerSpec(dpm_solver.sample_dpm_adaptive),
    "dpmpp_2s_ancestral": SamplerSpec(dpmpp.sample_dpmpp_2s_ancestral),
    "dpmpp_2s_ancestral_cfg_pp": SamplerSpec(dpmpp.sample_dpmpp_2s_ancestral_cfg_pp, **_UNCOND),
    "dpmpp_sde": SamplerSpec(dpmpp.sample_dpmpp_sde),
    "dpmpp_sde_gpu": SamplerSpec(dpmpp.sample_dpmpp_sde_gpu),
    "dpmpp_2m": SamplerSpec(dpmpp.sample_dpmpp_2m),
    "dpmpp_2m_cfg_pp": SamplerSpec(dpmpp.sample_dpmpp_2m_cfg_pp, **_UNCOND),
    "dpmpp_2m_sde": SamplerSpec(dpmpp.sample_dpmpp_2m_sde),
    "dpmpp_2m_sde_gpu": SamplerSpec(dpmpp.sample_dpmpp_2m_sde_gpu),
    "dpmpp_2m_sde_heun": SamplerSpec(dpmpp.sample_dpmpp_2m_sde_heun),
    "dpmpp_2m_sde_heun_gpu": SamplerSpec(dpmpp.sample_dpmpp_2m_sde_heun_gpu),
    "dpmpp_3m_sde": SamplerSpec(dpmpp.sample_dpmpp_3m_sde),
    "dpmpp_3m_sde_gpu": SamplerSpec(dpmpp.sample_dpmpp_3m_sde_gpu),
    "ddpm": SamplerSpec(step.sample_ddpm),
    "lcm": SamplerSpec(step.sample_lcm),
    "ipndm": SamplerSpec(adams.sample_ipndm),
    "ipndm_v": SamplerSpec(adams.sample_ipndm_v),
    "deis": SamplerSpec(adams.sample_deis),
    "res_multistep": SamplerSpec(res.sample_res_multistep),
    "res_multistep_cfg_pp": SamplerSpec(res.sample_res_multistep_cfg_pp, **_UNCOND),
    "res_multistep_ancestral": SamplerSpec(res.sample_res_multistep_ancestral),
    "res_multistep_ancestral_cfg_pp": SamplerSpec(res.sample_res_multistep_ancestral_cfg_pp, **_UNCOND),
    "gradient_estimation": SamplerSpec(euler.sample_gradient_estimation),
    "gradient_estimation_cfg_pp": SamplerSpec(euler.sample_gradient_estimation_cfg_pp, **_UNCOND),
    "er_sde": SamplerSpec(res.sample_er_sde),
    "seeds_2": SamplerSpec(seeds.sample_seeds_2),
    "seeds_3": SamplerSpec(seeds.sample_seeds_3),
    "sa_solver": SamplerSpec(sa.sample_sa_solver, **_SA),
    "sa_solver_pece": SamplerSpec(sa.sample_sa_solver_pece, **_SA),
    # DDIM with η = 0 is Euler on the probability-flow ODE (Karras et al. 2022, sec. 4);
    # it differs only in the inpainting noise.
    "ddim": SamplerSpec(euler.sample_euler, random_inpaint_noise=True),
    "uni_pc": SamplerSpec(unipc.sample_uni_pc, **_DISCARD),
    "uni_pc_bh2": SamplerSpec(unipc.sample_uni_pc_bh2, **_DISCARD),
}
SAMPLER_NAMES: tuple[str, ...] = tuple(SAMPLERS)


def get_sampler(name: str) -> SamplerSpec:
    """The sampler called `name`; a clear error names the valid choices."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; expected one of {list(SAMPLERS)}") from None
