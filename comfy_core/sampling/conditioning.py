"""Typed conditioning inside sampling.

Nodes keep ComfyUI's CONDITIONING shape, a list of `[cross_attn [1,T,D], {options}]`, for
plugin compatibility; `from_comfy` turns it into frozen `CondEntry` values once, and
`resolve` fixes everything that depends on the latent and the model (area in latent
units, mask at latent size, σ range, the SDXL ADM vector `y`, COMPAT 9.8, and for
inpainting UNets the concat channels, `sampling.concat`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from comfy_core.sampling.cond_view import RESOLVED_KEYS, CondDictView  # noqa: F401 (re-exported)
from comfy_core.sampling.concat import ConcatSource, inpaint_concat
from comfy_core.sampling.embedding import timestep_embedding
from comfy_core.sampling.lotus import lotus_task_embedding
from comfy_core.sampling.unclip import DEFAULT_MERGE_AUGMENTATION, unclip_inputs, unclip_model_y, unclip_pooled
from comfy_core.sampling.model_sampling import ModelSampling

Area = tuple[int, int, int, int]  # (h, w, y, x) in latent units
ADM_KINDS = (None, "sdxl", "sdxl_refiner", "unclip")
SIZE_EMBEDDINGS = {"sdxl": 6, "sdxl_refiner": 5}  # 256-wide size/score embeddings after the pooled vector
_SIZE_KEYS = ("width", "height", "crop_w", "crop_h", "target_width", "target_height", "aesthetic_score")


@dataclass(frozen=True)
class CondEntry:
    """One conditioning entry. `sizes` holds the SDXL size/score options that were set;
    `concat_latent` / `concat_mask` are InpaintModelConditioning's inputs for inpainting UNets."""

    cross_attn: torch.Tensor  # [1|B, T, D]
    pooled: torch.Tensor | None = None  # [1|B, P]
    area: tuple | None = None  # (h, w, y, x) latent units, or ("percentage", h, w, y, x)
    mask: torch.Tensor | None = None  # [1|B, H, W] or [H, W], any resolution
    mask_strength: float = 1.0
    set_area_to_bounds: bool = False
    strength: float = 1.0
    start_percent: float = 0.0
    end_percent: float = 1.0
    sizes: tuple[tuple[str, float], ...] = ()
    concat_latent: torch.Tensor | None = None  # [1|B, C, H, W] raw VAE latent of the masked image
    concat_mask: torch.Tensor | None = None  # [1|B, 1, H, W] or [1|B, H, W], any resolution
    control: Any = None  # a ControlNet-like object (get_control, pre_run, cleanup, get_models)
    control_apply_to_uncond: bool = False
    gligen: Any = None  # ("position" | other, gligen model, positions)
    uuid: Any = field(default_factory=uuid.uuid4)
    options: dict = field(default_factory=dict, compare=False)  # the entry's dict as given

    # Plugins treat converted conds (`comfy.sampler_helpers.convert_cond`) as ComfyUI's
    # dicts: the entry's options plus `cross_attn` and `uuid`, copied before use.
    def copy(self) -> "CondEntry":
        return replace(self, options=dict(self.options))

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key) if key in ENTRY_KEYS else self.options[key]

    def __contains__(self, key: object) -> bool:
        return key in ENTRY_KEYS or key in self.options

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


ENTRY_KEYS = frozenset({"cross_attn", "uuid"})


@dataclass(frozen=True)
class ResolvedCond(CondDictView):
    """A CondEntry made concrete for one latent: what the guider batches."""

    cross_attn: torch.Tensor  # [1|B, T, D]
    y: torch.Tensor | None  # [1|B, adm]
    area: Area | None
    mask: torch.Tensor | None  # [1|B, h, w] at latent size
    mask_strength: float
    strength: float
    sigma_start: float  # skip when σ > sigma_start
    sigma_end: float  # skip when σ < sigma_end
    concat: torch.Tensor | None = None  # [B, 1 + C, h, w] inpainting mask + masked latent
    control: Any = None
    control_apply_to_uncond: bool = False
    gligen: Any = None
    uuid: Any = None
    options: dict = field(default_factory=dict, compare=False)
    extra_conds: dict | None = None  # model inputs a plugin added, as comfy.conds wrappers


def from_comfy(conditioning: Sequence[Sequence[Any]]) -> list[CondEntry]:
    """ComfyUI CONDITIONING (list of [tensor, dict]) -> CondEntry list."""
    out = []
    for k, item in enumerate(conditioning):
        if len(item) != 2 or not isinstance(item[1], dict) or not torch.is_tensor(item[0]):
            raise ValueError(f"conditioning entry {k} is not [tensor, dict]: {type(item).__name__}")
        tensor, opts = item
        sizes = tuple((key, float(opts[key])) for key in _SIZE_KEYS if opts.get(key) is not None)
        out.append(
            CondEntry(
                cross_attn=tensor,
                pooled=opts.get("pooled_output"),
                area=tuple(opts["area"]) if opts.get("area") is not None else None,
                mask=opts.get("mask"),
                mask_strength=float(opts.get("mask_strength", 1.0)),
                set_area_to_bounds=bool(opts.get("set_area_to_bounds", False)),
                strength=float(opts.get("strength", 1.0)),
                start_percent=float(opts.get("start_percent", 0.0)),
                end_percent=float(opts.get("end_percent", 1.0)),
                sizes=sizes,
                concat_latent=opts.get("concat_latent_image"),
                concat_mask=opts.get("concat_mask"),
                control=opts.get("control"),
                control_apply_to_uncond=bool(opts.get("control_apply_to_uncond", False)),
                gligen=opts.get("gligen"),
                options=dict(opts),
            )
        )
    return out


def adm_vector(
    pooled: torch.Tensor, sizes: dict[str, float], kind: str, negative: bool, latent_hw: tuple[int, int]
) -> torch.Tensor:
    """SDXL `y` [B, 2816] (or refiner [B, 2560]) from the pooled vector and size options;
    width/height default to the latent size × 8 (COMPAT 9.8)."""
    width = sizes.get("width", latent_hw[1] * 8)
    height = sizes.get("height", latent_hw[0] * 8)
    crop_w, crop_h = sizes.get("crop_w", 0), sizes.get("crop_h", 0)
    if kind == "sdxl":
        values = [height, width, crop_h, crop_w, sizes.get("target_height", height), sizes.get("target_width", width)]
    elif kind == "sdxl_refiner":
        values = [height, width, crop_h, crop_w, sizes.get("aesthetic_score", 2.5 if negative else 6.0)]
    else:
        raise ValueError(f"unknown adm kind {kind!r}; expected one of {ADM_KINDS}")
    flat = timestep_embedding(values).flatten().unsqueeze(0).repeat(pooled.shape[0], 1)
    return torch.cat([pooled.to(flat), flat], dim=1)


def _mask_bounds(mask: torch.Tensor) -> Area:
    """Bounding box of the non-zero mask pixels as an area, at least 8×8."""
    bounds = mask.abs().max(dim=0).values  # [h, w]
    if not bool((bounds != 0).any()):
        return (8, 8, 0, 0)
    ys, xs = torch.where(bounds != 0)
    y0, x0, y1, x1 = int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())
    return (max(8, y1 - y0 + 1), max(8, x1 - x0 + 1), y0, x0)


def _resolve_area(area: tuple | None, hw: tuple[int, int]) -> Area | None:
    if area is None:
        return None
    if area[0] == "percentage":
        h, w, y, x = (float(v) for v in area[1:])
        return (max(1, round(h * hw[0])), max(1, round(w * hw[1])), round(y * hw[0]), round(x * hw[1]))
    return tuple(int(v) for v in area)  # type: ignore[return-value]


def entry_y(e: CondEntry, adm: str | None, adm_size: int | None, negative: bool, hw: tuple[int, int],
            seed: int | None) -> torch.Tensor | None:
    """The ADM vector `y` of an entry: SDXL's pooled text (or unCLIP image embedding) and
    sizes (COMPAT 9.8), SD 2.1 unCLIP's augmented image embedding (`sampling.unclip`),
    Lotus's fixed task switcher (`sampling.lotus`)."""
    if adm is None:
        return None
    if adm == "lotus":
        return lotus_task_embedding()
    images = unclip_inputs(e.options)
    if adm == "unclip":
        merge = float(e.options.get("unclip_noise_augment_merge", DEFAULT_MERGE_AUGMENTATION))
        return unclip_model_y(images, int(adm_size or 0), seed, merge)
    pooled = e.pooled
    if images:
        pooled = unclip_pooled(images, int(adm_size or 0) - SIZE_EMBEDDINGS[adm] * 256, seed)
    if pooled is None:
        raise ValueError("SDXL conditioning needs 'pooled_output'; this entry has none")
    return adm_vector(pooled, dict(e.sizes), adm, negative, hw)


def resolve(
    entries: Sequence[CondEntry],
    latent_shape: Sequence[int],
    ms: ModelSampling,
    adm: str | None = None,
    negative: bool = False,
    concat: ConcatSource | None = None,
    device: torch.device | str | None = None,
    adm_size: int | None = None,
    seed: int | None = None,
) -> list[ResolvedCond]:
    """Make entries concrete for a latent [B,C,h,w]: latent-size masks, areas, σ ranges, y
    (`adm_size` wide; `seed` seeds unCLIP noise augmentation), and the concat channels when
    `concat` is given (inpainting UNets); every tensor ends up on `device` (the sampling
    device) when one is given, so the loop never copies."""

    def on(t: torch.Tensor | None) -> torch.Tensor | None:
        return t if t is None or device is None else t.to(device)

    hw = (int(latent_shape[-2]), int(latent_shape[-1]))
    out = []
    for e in entries:
        area, mask = _resolve_area(e.area, hw), None
        if e.mask is not None:
            mask = e.mask.float()
            mask = mask.unsqueeze(0) if mask.ndim == 2 else mask
            if tuple(mask.shape[1:]) != hw:
                mask = F.interpolate(mask.unsqueeze(1), size=hw, mode="bilinear", align_corners=False).squeeze(1)
            if e.set_area_to_bounds:
                area = _mask_bounds(mask)
        y = entry_y(e, adm, adm_size, negative, hw, seed)
        extra = None if concat is None else inpaint_concat(concat, latent_shape, e.concat_latent, e.concat_mask)
        out.append(
            ResolvedCond(
                cross_attn=on(e.cross_attn), y=on(y), area=area, mask=on(mask), mask_strength=e.mask_strength,
                strength=e.strength, sigma_start=ms.percent_to_sigma(e.start_percent),
                sigma_end=ms.percent_to_sigma(e.end_percent), concat=on(extra), control=e.control,
                control_apply_to_uncond=e.control_apply_to_uncond, gligen=e.gligen, uuid=e.uuid,
                options=e.options,
            )
        )
    return out


def _inside(a: Area, outer: Area) -> bool:
    return (
        a[0] + a[2] <= outer[0] + outer[2] and a[1] + a[3] <= outer[1] + outer[3]
        and a[2] >= outer[2] and a[3] >= outer[3]
    )


def mirror_areas(side: list[ResolvedCond], other: list[ResolvedCond]) -> list[ResolvedCond]:
    """For each area entry on `other`, add to `side` a copy with the same area whose tokens
    come from `side`'s smallest entry enclosing it (or any area-less entry), unless an entry
    with exactly that area exists. Keeps area prompts from being guided against nothing."""
    result = list(side)
    for c in other:
        if c.area is None:
            continue
        smallest = None
        for cand in result:
            if cand.area is None:
                smallest = cand if smallest is None else smallest
            elif _inside(c.area, cand.area):
                if smallest is None or smallest.area is None:
                    smallest = cand
                elif smallest.area[0] * smallest.area[1] > cand.area[0] * cand.area[1]:
                    smallest = cand
        if smallest is None or smallest.area == c.area:
            continue
        result.append(replace(c, cross_attn=smallest.cross_attn, y=smallest.y, concat=smallest.concat))
    return result


def share_controls(positive: list[ResolvedCond], other: list[ResolvedCond]) -> list[ResolvedCond]:
    """`other` (a negative side) with the controls of positive area-less entries marked
    `control_apply_to_uncond`, handed round-robin to its area-less entries that have none,
    unless one of them already has a control (ComfyUI's rule)."""
    controls = [c.control for c in positive if c.area is None and c.control is not None and c.control_apply_to_uncond]
    if not controls or any(c.area is None and c.control is not None for c in other):
        return other
    free = [i for i, c in enumerate(other) if c.area is None and c.control is None]
    if not free:
        return other
    out = list(other)
    for n, control in enumerate(controls):
        i = free[n % len(free)]
        if n < len(free):
            out[i] = replace(out[i], control=control)
        else:
            out.append(replace(other[i], control=control))
    return out
