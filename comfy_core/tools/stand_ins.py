"""Tiny random stand-ins for the model files a shared workflow names, so it can run on a
machine without them (trying published workflows, the template test).

A stand-in keeps the file's name with a `.safetensors` suffix (`v1-5-pruned-emaonly.ckpt`
becomes `v1-5-pruned-emaonly.safetensors`: pickles are never loaded here) in the folder the
loader input reads. What to generate follows from the loader input (`ckpt_name` is a
checkpoint, `control_net_name` a ControlNet, ...) and, for checkpoints, from the family the
file name suggests (`sd_xl_refiner_1.0` an SDXL refiner, `v2-1_768-ema-pruned` SD 2.x
v-prediction, `512-inpainting-ema` SD 2.x inpainting, anything else SD 1.x). Add-on files
(LoRA, ControlNet, hypernetwork, embeddings) are made for the workflow's first checkpoint.
A diffusion model (UNETLoader) named like Lotus is a tiny Lotus-D UNet; another is the UNet
of the family its name suggests.
SD1.x checkpoints of a workflow with a T2I-Adapter get SD1's real block structure (at tiny
widths, under `sd1_levels/`), which the adapter's feature placement assumes; SDXL ones named
like files that carry sampling markers (CosXL, Playground v2.5, v-prediction) get them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch

from comfy_core.loading.keymaps import UNET_PREFIXES, VAE_PREFIX
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict

log = logging.getLogger(__name__)

# Loader input -> models folder; (class, input) entries win over the input name alone.
INPUT_FOLDERS = {"ckpt_name": "checkpoints", "vae_name": "vae", "lora_name": "loras",
                 "control_net_name": "controlnet", "style_model_name": "style_models",
                 "gligen_name": "gligen", "hypernetwork_name": "hypernetworks"}
CLASS_INPUT_FOLDERS = {("UpscaleModelLoader", "model_name"): "upscale_models",
                       ("CLIPVisionLoader", "clip_name"): "clip_vision",
                       ("UNETLoader", "unet_name"): "diffusion_models"}
LOTUS_NAME = re.compile(r"lotus", re.I)  # a diffusion model named so is a Lotus-D UNet
# Checkpoint file name -> family, first match wins; no match is SD 1.x.
FAMILY_RULES = (
    (re.compile(r"refiner", re.I), "sdxl_refiner"),
    (re.compile(r"unclip", re.I), "sd21_unclip"),
    (re.compile(r"xl.*edit|edit.*xl", re.I), "sdxl_ip2p"),
    (re.compile(r"xl|playground", re.I), "sdxl"),
    (re.compile(r"512-inpainting|(sd2|v2).*inpaint", re.I), "sd21_inpaint"),
    (re.compile(r"768|wd-1-5|wd-illusion", re.I), "sd21v"),
    (re.compile(r"v2-|sd2|512-base", re.I), "sd21"),
    (re.compile(r"inpaint", re.I), "sd15_inpaint"),
    (re.compile(r"pix2pix|ip2p", re.I), "sd15_ip2p"),
)
# SD1's block structure (4 levels of 2 res blocks) at tiny widths 32-128: the tiny
# T2I-Adapter's features (widths 32-128) land where they do on a real SD1.x UNet.
SD1_LEVELS = {"channel_mult": (1, 2, 4, 4), "num_res_blocks": (2, 2, 2, 2),
              "transformer_depth": (1, 1, 1, 1, 1, 1, 0, 0),
              "transformer_depth_output": (0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1)}
SD1_LEVELS_KIND, SD1_LEVELS_FOLDER = "sd15_sd1_levels", "sd1_levels"
# SDXL checkpoint file name -> the marker tensors such files carry (make_marked's kinds).
MARKER_RULES = ((re.compile(r"cosxl", re.I), "edm_vpred"), (re.compile(r"playground.?v?2\.5", re.I), "playground"),
                (re.compile(r"v.?pred", re.I), "v_pred"))
EMBEDDING = re.compile(r"embedding:([^\s,()]+)")
TEXT_ENCODER_KEYS = {"sd15": ("clip_l",), "sd21": ("clip_h",), "sdxl": ("clip_l", "clip_g"),
                     "sdxl_refiner": ("clip_g",)}


class StandInError(ValueError):
    """A named model file no generator here can stand in for; the message says which."""


@dataclass(frozen=True)
class StandIn:
    """One file to generate: its folder, the name the workflow gives, the stand-in's file
    name (relative to the folder), the generator kind and the family add-ons follow."""

    folder: str
    source: str
    name: str
    kind: str
    family: str
    markers: str | None = None  # make_marked's kind, for SDXL files that carry marker tensors


def stand_in_name(name: str) -> str:
    """The stand-in's file name for `name`: same stem and subfolder, `.safetensors`."""
    path = Path(name)
    return str(path.with_suffix(".safetensors")) if path.suffix else f"{name}.safetensors"


def checkpoint_family(name: str) -> str:
    """The family a checkpoint's file name (subfolders included: `SDXL/...`) suggests
    (FAMILY_RULES; SD 1.x otherwise)."""
    return next((family for rule, family in FAMILY_RULES if rule.search(name)), "sd15")


def base_family(family: str) -> str:
    """The family add-ons are built for: inpainting/edit/unCLIP variants share their base's
    text encoders and UNet blocks."""
    if family.startswith("sdxl"):
        return family if family == "sdxl_refiner" else "sdxl"
    return "sd21" if family.startswith("sd21") else "sd15"


def main_family(checkpoints: list[str]) -> str:
    """The family of a workflow's main model: its first checkpoint that is not a refiner."""
    families = [checkpoint_family(n) for n in checkpoints]
    return next((f for f in families if f != "sdxl_refiner"), families[0] if families else "sd15")


def loader_folder(class_type: str, input_name: str) -> str | None:
    """The models folder a loader input reads, or None for other inputs."""
    return CLASS_INPUT_FOLDERS.get((class_type, input_name)) or INPUT_FOLDERS.get(input_name)


def _kind(folder: str, class_type: str, name: str, family: str) -> str:
    """Which generator makes the stand-in for `name` in `folder`."""
    lower = Path(name).name.lower()
    if folder == "checkpoints":
        return checkpoint_family(name)
    if folder == "diffusion_models":  # a bare UNet: Lotus-D, else the UNet of the family the name suggests
        return "lotus" if LOTUS_NAME.search(lower) else checkpoint_family(name)
    if folder == "controlnet":
        if class_type == "DiffControlNetLoader" or lower.startswith("diff_"):
            return "diff"
        if "t2iadapter" in lower or "t2i" in lower:
            return "t2i_xl" if family == "sdxl" else "t2i"
        return "control_lora" if "control-lora" in lower or "control_lora" in lower else "ldm"
    if folder == "upscale_models":
        return "compact" if re.search(r"x2\b|_x2|2x", lower) else "esrgan"
    if folder == "clip_vision":
        return "vit-g" if re.search(r"_g\b|_g\.|bigg", lower) else "vit-h" if re.search(r"_h\b|_h\.|vit-h", lower) \
            else "vit-l"
    return folder


def plan(prompt: dict) -> list[StandIn]:
    """The stand-ins an API prompt needs, checkpoints first (add-ons follow their family)."""
    found: list[tuple[str, str, str]] = []  # (folder, class, name)
    for node in prompt.values():
        for key, value in (node.get("inputs") or {}).items():
            folder = loader_folder(node.get("class_type", ""), key)
            if folder and isinstance(value, str) and value:
                found.append((folder, node["class_type"], value))
    family = base_family(main_family([name for folder, _, name in found if folder == "checkpoints"]))
    kinds = {(folder, name): _kind(folder, class_type, name, family) for folder, class_type, name in found}
    # A T2I-Adapter places its features for SD1's block structure (two res blocks per level):
    # the SD1.x checkpoints of such a workflow get that structure, in a folder of their own.
    levels = family == "sd15" and any(k == "t2i" for (folder, _), k in kinds.items() if folder == "controlnet")
    out: dict[tuple[str, str], StandIn] = {}
    for folder, _, name in sorted(found, key=lambda f: f[0] != "checkpoints"):
        kind, target = kinds[(folder, name)], stand_in_name(name)
        if levels and folder == "checkpoints" and kind == "sd15":
            kind, target = SD1_LEVELS_KIND, f"{SD1_LEVELS_FOLDER}/{target}"
        markers = next((m for rule, m in MARKER_RULES if rule.search(name)), None) \
            if folder == "checkpoints" and kind.startswith("sdxl") and kind != "sdxl_refiner" else None
        out.setdefault((folder, name), StandIn(folder, name, target, kind, family, markers))
    return list(out.values())


def embedding_names(prompt: dict) -> set[str]:
    """`embedding:NAME` references in the prompt's text inputs."""
    return {m.group(1).rstrip(",") for node in prompt.values() for value in (node.get("inputs") or {}).values()
            if isinstance(value, str) for m in EMBEDDING.finditer(value)}


def substitute(prompt: dict, entries: Iterable[StandIn]) -> dict:
    """The prompt with every loader input pointing at its stand-in from `entries` (in place)."""
    names = {(e.folder, e.source): e.name for e in entries}
    for node in prompt.values():
        inputs = node.get("inputs") or {}
        for key, value in list(inputs.items()):
            folder = loader_folder(node.get("class_type", ""), key)
            if folder and (folder, value) in names:
                inputs[key] = names[(folder, value)]
    return prompt


def _main_checkpoint(models: Path, family: str, seed: int) -> Path:
    """A tiny checkpoint of `family` that add-ons (LoRA, diff ControlNet) are shaped on."""
    path = models / "_stand_in_bases" / f"{family}.safetensors"
    if not path.exists():
        _write_checkpoint(family, path, seed)
    return path


def _write_checkpoint(family: str, out: Path, seed: int, markers: str | None = None) -> None:
    from comfy_core.tools.make_checkpoint import FAMILY_CHOICES, build_checkpoint, layout, write_checkpoint
    from comfy_core.tools.make_marked import write_marked_checkpoint

    if family == SD1_LEVELS_KIND:
        base = layout("sd15", "tiny")
        lay = dataclasses.replace(base, unet=dataclasses.replace(base.unet, **SD1_LEVELS))
        out.parent.mkdir(parents=True, exist_ok=True)
        save_state_dict(build_checkpoint(lay, seed), out)
        return
    if family not in FAMILY_CHOICES:
        raise StandInError(f"no tiny generator for {family} checkpoints (make_checkpoint --family "
                           f"offers {', '.join(FAMILY_CHOICES)})")
    out.parent.mkdir(parents=True, exist_ok=True)
    if markers:
        write_marked_checkpoint(family, markers, out, seed=seed)
    else:
        write_checkpoint(family, "tiny", out, seed=seed)


def _write_unet(kind: str, out: Path, seed: int) -> None:
    """A diffusion-model file: a tiny Lotus-D UNet, or a tiny checkpoint's UNet (bare keys)."""
    if kind == "lotus":
        from comfy_core.tools.make_lotus import write_lotus_unet

        write_lotus_unet(out, seed=seed)
        return
    with tempfile.TemporaryDirectory(prefix="stand-in-") as tmp:
        whole = Path(tmp) / "checkpoint.safetensors"
        _write_checkpoint(kind, whole, seed)
        state = load_state_dict(whole)
    prefix = UNET_PREFIXES[0]  # the prefix make_checkpoint writes
    save_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, out)


def _write_vae(models: Path, out: Path, family: str, seed: int) -> None:
    """The VAE part of a tiny checkpoint, as a standalone file (ldm key names)."""
    state = load_state_dict(_main_checkpoint(models, family, seed))
    save_state_dict({k[len(VAE_PREFIX):]: v for k, v in state.items() if k.startswith(VAE_PREFIX)}, out)


def _writer(entry: StandIn, models: Path, seed: int) -> Callable[[Path], object]:
    """A function writing `entry`'s stand-in to a path."""
    from comfy_core.tools import (make_checkpoint, make_clip_vision, make_controlnet, make_gligen,
                                  make_hypernetwork, make_style_model, make_upscale)

    family, kind = entry.family, entry.kind
    writers: dict[str, Callable[[Path], object]] = {
        "checkpoints": lambda out: _write_checkpoint(kind, out, seed, entry.markers),
        "diffusion_models": lambda out: _write_unet(kind, out, seed),
        "vae": lambda out: _write_vae(models, out, family, seed),
        "loras": lambda out: make_checkpoint.write_lora(_main_checkpoint(models, family, 0), out, seed=seed),
        "controlnet": lambda out: make_controlnet.write_controlnet(
            kind, family, out, seed=seed, checkpoint=_main_checkpoint(models, family, 0)),
        "upscale_models": lambda out: make_upscale.write_upscale_model(kind, out, seed=seed),
        "clip_vision": lambda out: make_clip_vision.write_clip_vision(kind, out, seed=seed),
        "style_models": lambda out: make_style_model.write_style_model(out, seed=seed),
        "gligen": lambda out: make_gligen.write_gligen(out, seed=seed),
        "hypernetworks": lambda out: make_hypernetwork.write_hypernetwork(out, seed=seed),
    }
    if entry.folder not in writers:
        raise StandInError(f"no tiny generator for files in models/{entry.folder}")
    return writers[entry.folder]


def write_stand_ins(entries: Iterable[StandIn], models: Path, seed: int = 0) -> list[Path]:
    """Generate each stand-in that does not exist yet under `models`; a different seed per
    file, so two checkpoints of one family differ (merges mean something)."""
    written = []
    for i, entry in enumerate(entries):
        out = models / entry.folder / entry.name
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        _writer(entry, models, seed + i)(out)
        log.info("stand-in %s (%s, %s)", out, entry.kind, entry.family)
        written.append(out)
    return written


def write_embeddings(names: Iterable[str], models: Path, family: str, seed: int = 0) -> list[Path]:
    """A two-vector textual-inversion embedding per name, sized for `family`'s tiny text
    encoders (one tensor per encoder key)."""
    from comfy_core.tools.make_checkpoint import layout

    widths = [cfg.hidden_size for _, cfg, _ in layout(family, "tiny").clips]
    keys = TEXT_ENCODER_KEYS.get(family, TEXT_ENCODER_KEYS["sd15"])
    gen = torch.Generator().manual_seed(seed)
    written = []
    for name in sorted(names):
        out = models / "embeddings" / (name if name.endswith(".safetensors") else f"{name}.safetensors")
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            save_state_dict({k: torch.randn(2, w, generator=gen) * 0.02 for k, w in zip(keys, widths)}, out)
            written.append(out)
    return written
