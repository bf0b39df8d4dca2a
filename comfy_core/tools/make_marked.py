"""Random-weight checkpoints carrying the sampling marker tensors of circulating SDXL files
(what `comfy_core.loading.markers` reads):

    python -m comfy_core.tools.make_checkpoint --family sdxl --markers playground --out tiny_playground.safetensors
    python -m comfy_core.tools.make_checkpoint --family sdxl --markers edm_vpred --sigma-max 120 --sigma-min 0.002 \\
        --out tiny_cosxl.safetensors
    python -m comfy_core.tools.make_checkpoint --family sdxl --markers v_pred_ztsnr --out tiny_vpred_zsnr.safetensors

Kinds: `v_pred` (an empty tensor, as CheckpointSave writes it), `v_pred_ztsnr` (`v_pred` and
`ztsnr`), `ztsnr` (alone: ignored on load), `edm_vpred` (`edm_vpred.sigma_max` and
`edm_vpred.sigma_min` as float32 scalars), `edm_vpred_max` (σ_max only), `playground`
(`edm_mean` / `edm_std`: Playground v2.5's per-channel latent statistics, shaped [1, 4, 1, 1]).
Any family takes them, so tests can show which families ignore them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading import markers as mk
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.latent_formats import SDXL_Playground_2_5

MARKER_KINDS = ("v_pred", "v_pred_ztsnr", "ztsnr", "edm_vpred", "edm_vpred_max", "playground")


def marker_tensors(kind: str, sigma_min: float = 0.002, sigma_max: float = 120.0) -> dict[str, torch.Tensor]:
    """The top-level tensors a file of marker `kind` carries (σ values for the edm_vpred kinds)."""
    empty = torch.tensor([])
    if kind == "v_pred":
        return {mk.V_PRED: empty}
    if kind == "v_pred_ztsnr":
        return {mk.V_PRED: empty, mk.ZTSNR: empty.clone()}
    if kind == "ztsnr":
        return {mk.ZTSNR: empty}
    if kind in ("edm_vpred", "edm_vpred_max"):
        out = {mk.EDM_VPRED_MAX: torch.tensor(float(sigma_max), dtype=torch.float32)}
        if kind == "edm_vpred":
            out[mk.EDM_VPRED_MIN] = torch.tensor(float(sigma_min), dtype=torch.float32)
        return out
    if kind == "playground":
        stats = SDXL_Playground_2_5
        return {"edm_mean": torch.tensor(stats.latents_mean).view(1, 4, 1, 1),
                "edm_std": torch.tensor(stats.latents_std).view(1, 4, 1, 1)}
    raise ValueError(f"unknown marker kind {kind!r}; expected one of {list(MARKER_KINDS)}")


def write_marked_checkpoint(family: str, kind: str, out: str | Path, size: str = "tiny", seed: int = 0,
                            dtype: torch.dtype | None = None, sigma_min: float = 0.002,
                            sigma_max: float = 120.0) -> Path:
    """A random checkpoint of `family` (make_checkpoint's layouts) plus the markers of `kind`;
    the same seed gives the same weights as the unmarked file."""
    from comfy_core.tools.make_checkpoint import build_checkpoint, layout

    dtype = dtype or (torch.float32 if size == "tiny" else torch.float16)
    state = build_checkpoint(layout(family, size), seed, dtype)
    state.update(marker_tensors(kind, sigma_min, sigma_max))
    save_state_dict(state, out, metadata={"comfy_core.random_family": family, "comfy_core.size": size,
                                          "comfy_core.markers": kind})
    return Path(out)
