"""Standalone text-encoder files (CLIPLoader, DualCLIPLoader): which encoder each file is,
and which family the resulting CLIP belongs to.

A file is recognised from its token-embedding width and key layout: 768 is OpenAI CLIP-L,
1024 OpenCLIP ViT-H (SD2), 1280 OpenCLIP ViT-bigG (SDXL clip_g). Widths that match none
(tiny test encoders) fall back to the layout for single files (OpenCLIP keys -> clip_h,
otherwise clip_l) and to the input order for pairs (first clip_l, second clip_g).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from safetensors import SafetensorError, safe_open

from comfy_core.loading.checkpoint import clip_from_states, load_clip
from comfy_core.loading.safetensors_io import SAFE_SUFFIXES, CheckpointError, load_state_dict
from comfy_core.models.family import SD2_EPS, SD15, SDXL, SDXL_REFINER, ModelFamily
from comfy_core.models.clip_value import CLIP

# CLIPLoader / DualCLIPLoader `type` choices, in ComfyUI's order (COMPAT 7).
CLIP_TYPES = ("stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart",
              "cosmos", "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image",
              "hunyuan_image", "flux2", "ovis")
DUAL_CLIP_TYPES = ("sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image", "hunyuan_video_15",
                   "kandinsky5", "kandinsky5_image", "ltxv", "newbie")
SUPPORTED = {"stable_diffusion", "sdxl"}

_EMBEDDING_KEYS = ("text_model.embeddings.token_embedding.weight", "embeddings.token_embedding.weight",
                   "token_embedding.weight")
_ROLE_BY_WIDTH = {768: "clip_l", 1024: "clip_h", 1280: "clip_g"}


def _probe(path: Path) -> tuple[int, bool]:
    """(token-embedding width, OpenCLIP layout) of a text-encoder file, read lazily."""
    if path.suffix.lower() not in SAFE_SUFFIXES:
        load_state_dict(path)  # raises the clear "pickle refused" / "not safetensors" error
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            keys = set(f.keys())
            key = next((k for k in _EMBEDDING_KEYS if k in keys), None)
            if key is None:
                raise CheckpointError(f"{path.name}: not a CLIP text encoder (no token embedding among "
                                      f"{len(keys)} tensors, expected e.g. {_EMBEDDING_KEYS[0]!r})")
            width = int(f.get_slice(key).get_shape()[1])
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path.name}: not a valid safetensors file: {exc}") from exc
    return width, any(k.startswith("transformer.resblocks.") for k in keys)


def _check_type(clip_type: str, choices: Sequence[str]) -> None:
    if clip_type not in choices:
        raise ValueError(f"unknown CLIP type {clip_type!r}; expected one of {list(choices)}")
    if clip_type not in SUPPORTED:
        raise ValueError(f"CLIP type {clip_type!r} is not supported yet; use 'stable_diffusion' (CLIPLoader) "
                         f"or 'sdxl' (DualCLIPLoader)")


def single_clip_family(path: str | Path) -> ModelFamily:
    """The family whose only text encoder `path` is: SD1 (clip_l), SD2 (clip_h) or the SDXL
    refiner (clip_g)."""
    width, open_clip = _probe(Path(path))
    role = _ROLE_BY_WIDTH.get(width, "clip_h" if open_clip else "clip_l")
    return {"clip_l": SD15, "clip_h": SD2_EPS, "clip_g": SDXL_REFINER}[role]


def load_clip_file(path: str | Path, clip_type: str, **kwargs) -> CLIP:
    """CLIPLoader: one text-encoder file as a CLIP value (kwargs go to `load_clip`)."""
    _check_type(clip_type, CLIP_TYPES)
    return load_clip([path], single_clip_family(path), **kwargs)


def load_dual_clip(paths: Sequence[str | Path], clip_type: str, **kwargs) -> CLIP:
    """DualCLIPLoader type sdxl: a clip_l and a clip_g file in either order."""
    _check_type(clip_type, DUAL_CLIP_TYPES)
    if len(paths) != 2:
        raise ValueError(f"DualCLIPLoader needs two files, got {len(paths)}")
    roles = [_ROLE_BY_WIDTH.get(_probe(Path(p))[0]) for p in paths]
    if roles in (["clip_g", "clip_l"], ["clip_g", None], [None, "clip_l"]):
        paths = [paths[1], paths[0]]
    elif roles not in (["clip_l", "clip_g"], ["clip_l", None], [None, "clip_g"], [None, None]):
        names = ", ".join(f"{Path(p).name} ({r or 'unknown width'})" for p, r in zip(paths, roles))
        raise CheckpointError(f"sdxl needs one clip_l (768) and one clip_g (1280) file, got {names}")
    return load_clip(list(paths), SDXL, **kwargs)


def _state_role(state: dict) -> str | None:
    """clip_l / clip_h / clip_g of an in-memory text encoder, by its embedding width."""
    key = next((k for k in _EMBEDDING_KEYS if k in state), None)
    if key is None:
        raise CheckpointError(f"not a CLIP text encoder (no token embedding among {len(state)} tensors)")
    return _ROLE_BY_WIDTH.get(int(state[key].shape[1]))


def clip_from_state_dicts(states: Sequence[dict], **kwargs: Any) -> CLIP:
    """A CLIP from text-encoder state dicts already in memory: one (SD1 clip_l, SD2 clip_h,
    refiner clip_g) or an SDXL clip_l + clip_g pair in either order (kwargs go to
    `clip_from_states`)."""
    roles = [_state_role(s) for s in states]
    if len(states) == 1:
        family = {"clip_l": SD15, "clip_h": SD2_EPS, "clip_g": SDXL_REFINER}.get(roles[0] or "clip_l")
        return clip_from_states([(states[0], "text encoder")], family, **kwargs)
    if len(states) == 2 and sorted(map(str, roles)) == ["clip_g", "clip_l"]:
        ordered = states if roles[0] == "clip_l" else list(reversed(states))
        return clip_from_states([(ordered[0], "clip_l"), (ordered[1], "clip_g")], SDXL, **kwargs)
    raise CheckpointError(f"text encoders of widths {roles}: only SD1.x/SD2.x/SDXL CLIP text encoders "
                          "are supported")
