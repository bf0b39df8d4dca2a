"""Published σ schedules: Align Your Steps' optimised noise levels (Sabour et al. 2024), the
GITS sets (Chen et al. 2024, "On the Trajectory Regularity of ODE-based Diffusion
Sampling"), and SD-Turbo's fixed timesteps (Sauer et al. 2023, "Adversarial Diffusion
Distillation"). Each takes steps and a denoise fraction and returns float32 σ ending in 0."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch

from comfy_core.sampling.model_sampling import ModelSampling

# Align Your Steps' 10-step noise levels per model family (the paper's published values).
AYS_NOISE_LEVELS: dict[str, tuple[float, ...]] = {
    "SD1": (14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177, 1.3943805092,
            0.9642583904, 0.6523686016, 0.3977456272, 0.1515232662, 0.0291671582),
    "SDXL": (14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141,
             0.5550693289, 0.3798540708, 0.2332364134, 0.1114188177, 0.0291671582),
    "SVD": (700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002),
}
GITS_FILE = Path(__file__).with_name("data") / "gits_sigmas.json"
GITS_MAX_TABLE_STEPS = 20  # the sets cover 2..20 steps; longer schedules interpolate the 20-step one


def loglinear_interp(levels: list[float] | np.ndarray, count: int) -> np.ndarray:
    """`count` values from a decreasing list, interpolated linearly in log σ over an even
    grid (the AYS paper's recipe for other step counts)."""
    levels = np.asarray(levels, dtype=np.float64)
    xs = np.linspace(0, 1, len(levels))
    ys = np.log(levels[::-1])
    return np.exp(np.interp(np.linspace(0, 1, count), xs, ys))[::-1].copy()


def _tail(levels: list[float] | np.ndarray, steps: int, denoise: float, rounding=round) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The last round(steps·denoise) + 1 levels with the final one set to 0; empty at
    denoise 0."""
    if denoise <= 0.0:
        return torch.FloatTensor([])
    total = steps if denoise >= 1.0 else rounding(steps * denoise)
    picked = list(levels)[-(total + 1):]
    picked[-1] = 0.0
    return torch.FloatTensor(picked)


def align_your_steps(model_type: str, steps: int, denoise: float = 1.0) -> torch.Tensor:
    """AYS levels for SD1, SDXL or SVD, log-linearly interpolated to `steps` + 1 values."""
    try:
        levels: list[float] | np.ndarray = list(AYS_NOISE_LEVELS[model_type])
    except KeyError:
        raise ValueError(f"unknown model_type {model_type!r}; expected one of {list(AYS_NOISE_LEVELS)}") from None
    if steps + 1 != len(levels):
        levels = loglinear_interp(levels, steps + 1)
    return _tail(levels, steps, denoise)


@functools.lru_cache(maxsize=1)
def gits_table() -> dict[str, tuple[tuple[float, ...], ...]]:
    """{coeff "0.80".."1.50": σ sets for 2..20 steps}, read once (it is data, not code)."""
    raw = json.loads(GITS_FILE.read_text(encoding="utf-8"))
    return {coeff: tuple(tuple(s) for s in sets) for coeff, sets in raw.items()}


def gits(coeff: float, steps: int, denoise: float = 1.0) -> torch.Tensor:
    """The GITS set for `coeff` (0.80 to 1.50 in steps of 0.05) and `steps`; above 20
    steps the 20-step set interpolated log-linearly."""
    table = gits_table()
    key = f"{round(coeff, 2):.2f}"
    if key not in table:
        raise ValueError(f"GITS coeff must be one of {sorted(float(k) for k in table)}, got {coeff}")
    if steps < 2:
        raise ValueError(f"GITS needs at least 2 steps, got {steps}")
    if steps <= GITS_MAX_TABLE_STEPS:
        levels: tuple[float, ...] | np.ndarray = table[key][steps - 2]
    else:
        levels = loglinear_interp(table[key][-1], steps + 1)
    return _tail(levels, steps, denoise)


def sd_turbo(ms: ModelSampling, steps: int, denoise: float = 1.0) -> torch.Tensor:
    """SD-Turbo's timesteps 999, 899, ..., 99: `steps` of them starting 10·(1 − denoise)
    places in (truncated to whole places), as the model's σ, then 0."""
    start = 10 - int(10 * denoise)
    timesteps = torch.flip(torch.arange(1, 11) * 100 - 1, (0,))[start:start + steps]
    sigmas = ms.sigma(timesteps)
    return torch.cat([sigmas, sigmas.new_zeros([1])])
