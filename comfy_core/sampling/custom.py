"""Custom sampling's procedures: SamplerCustom's (ComfyUI's `comfy.sample.sample_custom`: a
CFG guider over a MODEL with a given SAMPLER, σ and noise) and the LATENT-dict wrapper both
SamplerCustom and SamplerCustomAdvanced use to run a GUIDER."""

from __future__ import annotations

from typing import Any, Callable

import torch

from comfy_core.sampling.guider import CFGGuider

# callback(step, x0, x, total_steps): step counts from 0; x0 is the denoised estimate.
StepCallback = Callable[[int, torch.Tensor, torch.Tensor, int], None]


def sample_custom(model: Any, noise: torch.Tensor, cfg: float, sampler: Any, sigmas: torch.Tensor, positive: list,
                  negative: list, latent_image: torch.Tensor, noise_mask: torch.Tensor | None = None,
                  callback: StepCallback | None = None, disable_pbar: bool = False,
                  seed: int | None = None) -> torch.Tensor:
    """The raw latent sampled with CFG over positive and negative (ComfyUI's signature)."""
    guider = CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider.sample(noise, latent_image, sampler, sigmas, denoise_mask=noise_mask, callback=callback,
                         disable_pbar=disable_pbar, seed=seed)


def run_guider(guider: Any, latent: dict, *, noise: Any, sampler: Any, sigmas: torch.Tensor,
               callback: StepCallback | None = None) -> tuple[dict, dict]:
    """(output, denoised_output) LATENT dicts on the CPU: the sampled latent and the last
    step's denoised estimate (the output itself when no step ran). `noise` is a NOISE value
    (`seed`, `generate_noise(latent)`)."""
    last: dict[str, torch.Tensor] = {}

    def on_step(step: int, x0: torch.Tensor, x: torch.Tensor, total: int) -> None:
        last["x0"] = x0
        if callback is not None:
            callback(step, x0, x, total)

    samples = guider.sample(noise.generate_noise(latent), latent["samples"], sampler, sigmas,
                            denoise_mask=latent.get("noise_mask"), callback=on_step, disable_pbar=True,
                            seed=noise.seed)
    out, denoised = dict(latent), dict(latent)
    out["samples"] = samples.cpu()
    if "x0" in last:
        denoised["samples"] = guider.model_patcher.model.process_latent_out(last["x0"].float()).cpu()
    else:
        denoised["samples"] = out["samples"]
    return out, denoised
