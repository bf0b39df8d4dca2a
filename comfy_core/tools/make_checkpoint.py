"""Write random-weight checkpoints in the real single-file layouts.

    python -m comfy_core.tools.make_checkpoint --family sd15 --size tiny --out tiny.safetensors
    python -m comfy_core.tools.make_checkpoint --family sdxl --size full --out sdxl_random.safetensors
    python -m comfy_core.tools.make_checkpoint --family sd15_inpaint --out tiny_inpaint.safetensors
    python -m comfy_core.tools.make_checkpoint --family sd_x4_upscaler --out x4_tiny.safetensors
    python -m comfy_core.tools.make_checkpoint --family sd21_unclip --out tiny_unclip.safetensors
    python -m comfy_core.tools.make_checkpoint --family sdxl --markers playground --out tiny_playground.safetensors
    python -m comfy_core.tools.make_checkpoint --lora lora.safetensors --family sd15 --checkpoint tiny.safetensors
    python -m comfy_core.tools.make_checkpoint --family sdxl --taesd models/vae_approx/taesdxl_decoder.safetensors
    python -m comfy_core.tools.make_checkpoint --upscale esrgan --out models/upscale_models/tiny_x4.safetensors
    python -m comfy_core.tools.make_checkpoint --clip-vision vit-h --out models/clip_vision/tiny_h.safetensors
    python -m comfy_core.tools.make_checkpoint --style-model --out models/style_models/tiny_style.safetensors
    python -m comfy_core.tools.make_checkpoint --gligen --out models/gligen/tiny_gligen.safetensors
    python -m comfy_core.tools.make_checkpoint --hypernetwork --out models/hypernetworks/tiny_hn.safetensors
    python -m comfy_core.tools.make_checkpoint --photomaker --out models/photomaker/tiny_photomaker.safetensors
    python -m comfy_core.tools.make_checkpoint --controlnet ldm --family sd15 --out models/controlnet/tiny.safetensors

Tiny checkpoints keep every real key name, layout and structural trait that detection reads
(ADM input, linear projections, attention-free deepest level of the refiner, the full
49408-token vocabulary) at model_channels 32 and 2 CLIP layers: a few MB, seconds on CPU.
`sd15_inpaint` / `sd21_inpaint` are SD1.5 / SD 2.x with the 9-input-channel UNet of
inpainting checkpoints (x, mask, masked-image latent); `sd15_ip2p` / `sdxl_ip2p` the 8-channel
UNet of InstructPix2Pix and SDXL edit models (x, image latent); `sd_x4_upscaler` Stability's
SD 2.x x4 upscaler (`make_x4_upscaler`); `sd21_unclip` SD 2.1 unCLIP with its CLIP vision
tower (`make_unclip`). `--markers KIND` adds the sampling marker tensors of v-prediction,
CosXL-style and Playground v2.5 files (`make_marked`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import torch
from torch import nn

from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict
from comfy_core.models.clip import ClipConfig, TextEncoder
from comfy_core.models.family import FAMILIES, UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.models.vae import AutoencoderKL, VAEConfig
from comfy_core.tools.make_marked import MARKER_KINDS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layout:
    """Everything needed to write one checkpoint: family, part configs, CLIP key prefixes."""

    family: str
    unet: UNetConfig
    vae: VAEConfig
    clips: tuple[tuple[str, ClipConfig, bool], ...]  # (key prefix, config, OpenCLIP layout)
    v_bias_std: float = 0.02


CLIP_L_FULL = ClipConfig()
CLIP_H_FULL = ClipConfig(hidden_size=1024, intermediate_size=4096, num_layers=24, num_heads=16,
                         hidden_act="gelu", projection_dim=1024)
CLIP_G_FULL = ClipConfig(hidden_size=1280, intermediate_size=5120, num_layers=32, num_heads=20,
                         hidden_act="gelu", projection_dim=1280)
CLIP_L_TINY = ClipConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=1)
CLIP_G_TINY = ClipConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=1,
                         hidden_act="gelu", projection_dim=32)
VAE_TINY = VAEConfig(ch=32, ch_mult=(1, 1, 1, 1), num_res_blocks=1)
ADM_SDXL, ADM_REFINER = 6 * 256, 5 * 256  # size/crop/target embeddings besides pooled_g
INPAINT_IN_CHANNELS = 9  # latent (4) + mask (1) + masked-image latent (4)
IP2P_IN_CHANNELS = 8  # latent (4) + input-image latent (4)
# Variants with a wider UNet input: family -> (base family, input channels).
EXTRA_INPUT_CHANNELS = {"sd15_inpaint": ("sd15", INPAINT_IN_CHANNELS), "sd15_ip2p": ("sd15", IP2P_IN_CHANNELS),
                        "sd21_inpaint": ("sd21", INPAINT_IN_CHANNELS), "sdxl_ip2p": ("sdxl", IP2P_IN_CHANNELS)}
FAMILY_CHOICES = ("sd15", "sd15_inpaint", "sd15_ip2p", "sd21", "sd21v", "sd21_inpaint", "sdxl", "sdxl_ip2p",
                  "sdxl_refiner", "sd21_unclip", "sd_x4_upscaler")


def _tiny_unet(family: str, context: int) -> UNetConfig:
    base = dataclasses.replace(FAMILIES["sd2" if family.startswith("sd21") else family].unet,
                               model_channels=32, context_dim=context)
    if family == "sdxl":
        return dataclasses.replace(base, channel_mult=(1, 2), num_res_blocks=(1, 1), transformer_depth=(0, 1),
                                   transformer_depth_output=(1, 1, 0, 0), transformer_depth_middle=1,
                                   adm_in_channels=CLIP_G_TINY.projection_dim + ADM_SDXL)
    if family == "sdxl_refiner":
        return dataclasses.replace(base, channel_mult=(1, 2, 2), num_res_blocks=(1, 1, 1),
                                   transformer_depth=(0, 1, 0), transformer_depth_output=(0, 0, 1, 1, 0, 0),
                                   transformer_depth_middle=1, adm_in_channels=CLIP_G_TINY.projection_dim + ADM_REFINER)
    return dataclasses.replace(base, channel_mult=(1, 2), num_res_blocks=(1, 1), transformer_depth=(1, 1),
                               transformer_depth_output=(1, 1, 1, 1), transformer_depth_middle=1)


def layout(family: str, size: str) -> Layout:
    """The layout of `family` (one of FAMILY_CHOICES) at `size`."""
    if family in EXTRA_INPUT_CHANNELS:
        base_family, channels = EXTRA_INPUT_CHANNELS[family]
        base = layout(base_family, size)
        return dataclasses.replace(base, family=family, unet=dataclasses.replace(base.unet, in_channels=channels))
    tiny = size == "tiny"
    clip_l, clip_h, clip_g = (CLIP_L_TINY, CLIP_G_TINY, CLIP_G_TINY) if tiny else (CLIP_L_FULL, CLIP_H_FULL, CLIP_G_FULL)
    clips = {
        "sd15": ((km.CLIP_L_PREFIX, clip_l, False),),
        "sd21": ((km.CLIP_H_PREFIX, clip_h, True),),
        "sd21v": ((km.CLIP_H_PREFIX, clip_h, True),),
        "sdxl": ((km.SDXL_CLIP_L_PREFIX, clip_l, False), (km.SDXL_CLIP_G_PREFIX, clip_g, True)),
        "sdxl_refiner": ((km.REFINER_CLIP_G_PREFIX, clip_g, True),),
    }
    if family not in clips:
        raise ValueError(f"unknown family {family!r}; expected one of {list(FAMILY_CHOICES)}")
    context = sum(c.hidden_size for _, c, _ in clips[family])
    if tiny:
        unet = _tiny_unet(family, context)
    else:
        unet = FAMILIES[{"sd21": "sd2", "sd21v": "sd2"}.get(family, family)].unet
    return Layout(family, unet, VAE_TINY if tiny else VAEConfig(), clips[family],
                  v_bias_std=0.2 if family == "sd21v" else 0.02)


def random_state(module: nn.Module, gen: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random weights for a (meta-device) module: fan-in scaled matrices and kernels,
    unit norm weights, small biases, N(0, 0.02) embeddings."""
    out = {}
    for key, t in module.state_dict().items():
        if key.endswith("position_ids"):
            continue
        if t.ndim >= 2:
            std = 0.02 if "embedding" in key else t[0].numel() ** -0.5
            value = torch.randn(t.shape, generator=gen) * std
        elif key.endswith("weight"):
            value = 1.0 + 0.02 * torch.randn(t.shape, generator=gen)
        else:
            value = 0.02 * torch.randn(t.shape, generator=gen)
        out[key] = value.to(dtype)
    return out


def build_checkpoint(lay: Layout, seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The full single-file state dict of `lay` with random weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        unet, vae = UNetModel(lay.unet), AutoencoderKL(lay.vae)
    state = {"model.diffusion_model." + k: v for k, v in random_state(unet, gen, dtype).items()}
    last = max(i for i, d in enumerate(lay.unet.transformer_depth_output) if d > 0)
    bias_key = f"model.diffusion_model.output_blocks.{last}.1.transformer_blocks.0.norm1.bias"
    state[bias_key] = (torch.randn(state[bias_key].shape, generator=gen) * lay.v_bias_std).to(dtype)
    state.update({km.VAE_PREFIX + k: v for k, v in random_state(vae, gen, dtype).items()})
    for prefix, cfg, open_clip in lay.clips:
        with torch.device("meta"):
            enc = TextEncoder(cfg)
        part = random_state(enc, gen, dtype)
        part = km.hf_to_openclip(part) if open_clip else part
        state.update({prefix + k: v for k, v in part.items()})
    return state


def write_checkpoint(family: str, size: str, out: str | Path, seed: int = 0, dtype: torch.dtype | None = None) -> Path:
    """Write a random checkpoint; tiny ones default to float32, full ones to float16."""
    if family == "sd21_unclip":
        from comfy_core.tools.make_unclip import write_unclip_checkpoint

        return write_unclip_checkpoint(out, size, seed, dtype)
    if family == "sd_x4_upscaler":
        from comfy_core.tools.make_x4_upscaler import write_x4_upscaler

        return write_x4_upscaler(out, size, seed, dtype)
    dtype = dtype or (torch.float32 if size == "tiny" else torch.float16)
    state = build_checkpoint(layout(family, size), seed, dtype)
    save_state_dict(state, out, metadata={"comfy_core.random_family": family, "comfy_core.size": size})
    return Path(out)


def _lora_targets(checkpoint: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """kohya LoRA names -> target weight shapes: UNet attention/proj/ff layers, one res-block
    conv (LoCon), every text-encoder projection."""
    sdxl = any(k.startswith(km.SDXL_CLIP_G_PREFIX) for k in checkpoint)
    te_names = {km.CLIP_L_PREFIX: "lora_te", km.CLIP_H_PREFIX: "lora_te", km.REFINER_CLIP_G_PREFIX: "lora_te",
                km.SDXL_CLIP_L_PREFIX: "lora_te1", km.SDXL_CLIP_G_PREFIX: "lora_te2"}
    out: dict[str, tuple[int, ...]] = {}
    unet_re = re.compile(r"model\.diffusion_model\.(.*(?:attn[12]\.to_[qkv]|to_out\.0|proj_in|proj_out|ff\.net\.0\.proj"
                         r"|input_blocks\.1\.0\.in_layers\.2))\.weight$")
    for key, t in checkpoint.items():
        if m := unet_re.match(key):
            out["lora_unet_" + m.group(1).replace(".", "_")] = tuple(t.shape)
    for prefix, name in te_names.items():
        if name == "lora_te" and sdxl:
            continue
        part = km.strip_prefix(checkpoint, prefix)
        hf = km.openclip_to_hf(part) if km.is_openclip(part) else km.clip_to_hf(part)
        for key, t in hf.items():
            if re.search(r"(q_proj|k_proj|v_proj|out_proj|fc1|fc2)\.weight$", key):
                out[f"{name}_" + key.removesuffix(".weight").replace(".", "_")] = tuple(t.shape)
    return out


def write_lora(checkpoint: str | Path, out: str | Path, seed: int = 0, rank: int = 4) -> Path:
    """A kohya-format LoRA (lora_up/lora_down/alpha; 3x3 convs as LoCon with lora_mid)
    for the layers of `checkpoint`."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, shape in _lora_targets(load_state_dict(checkpoint)).items():
        if len(shape) == 4 and shape[2:] != (1, 1):
            state[name + ".lora_down.weight"] = torch.randn(rank, shape[1], 1, 1, generator=gen) * shape[1] ** -0.5
            state[name + ".lora_mid.weight"] = torch.randn(rank, rank, *shape[2:], generator=gen) * 0.3
            state[name + ".lora_up.weight"] = torch.randn(shape[0], rank, 1, 1, generator=gen) * 0.1
        else:
            kernel = (1, 1) if len(shape) == 4 else ()
            state[name + ".lora_down.weight"] = torch.randn(rank, shape[1], *kernel, generator=gen) * shape[1] ** -0.5
            state[name + ".lora_up.weight"] = torch.randn(shape[0], rank, *kernel, generator=gen) * 0.1
        state[name + ".alpha"] = torch.tensor(float(rank) / 2)
    save_state_dict(state, out)
    return Path(out)


DTYPES = MappingProxyType({"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a random-weight SD checkpoint or LoRA (safetensors).")
    parser.add_argument("--family", choices=list(FAMILY_CHOICES), help="checkpoint family (required "
                        "except with --upscale)")
    parser.add_argument("--size", default="tiny", choices=["tiny", "full"])
    parser.add_argument("--out", help="checkpoint file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default fp32 (tiny) / fp16 (full)")
    parser.add_argument("--lora", help="write a tiny LoRA for the checkpoint given with --checkpoint")
    parser.add_argument("--checkpoint", help="the checkpoint a --lora file targets")
    parser.add_argument("--taesd", help="write a TAESD preview decoder for --family to this file "
                        "(e.g. models/vae_approx/taesd_decoder.safetensors)")
    parser.add_argument("--taesd-encoder", help="write the matching TAESD encoder to this file "
                        "(e.g. models/vae_approx/taesd_encoder.safetensors)")
    parser.add_argument("--upscale", choices=["esrgan", "compact"], help="write a tiny upscale model of "
                        "this architecture to --out (e.g. models/upscale_models/tiny_x4.safetensors)")
    parser.add_argument("--controlnet", help="write a tiny ControlNet / T2I-Adapter of this kind (ldm, bare, "
                        "diffusers, control_lora, diff, union, t2i, t2i_xl, t2i_light, t2i_diffusers) for --family "
                        "to --out; diff needs --checkpoint")
    parser.add_argument("--markers", choices=list(MARKER_KINDS), help="add these sampling marker tensors "
                        "to the checkpoint (see comfy_core.tools.make_marked)")
    parser.add_argument("--sigma-min", type=float, default=0.002, help="edm_vpred.sigma_min of --markers edm_vpred")
    parser.add_argument("--sigma-max", type=float, default=120.0, help="edm_vpred.sigma_max of --markers edm_vpred*")
    _add_extra_kinds(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if _write_extra_kind(args, parser):
        return
    if args.controlnet:
        from comfy_core.tools.make_controlnet import write_controlnet

        if not args.out or not args.family:
            parser.error("--controlnet needs --family and --out")
        write_controlnet(args.controlnet, args.family, args.out, seed=args.seed, checkpoint=args.checkpoint)
        return
    if args.upscale:
        from comfy_core.tools.make_upscale import write_upscale_model

        if not args.out:
            parser.error("--upscale needs --out")
        write_upscale_model(args.upscale, args.out, seed=args.seed)
        return
    if not args.family:
        parser.error("--family is required")
    if args.taesd or args.taesd_encoder:
        from comfy_core.tools.make_taesd import write_taesd_decoder, write_taesd_encoder

        if args.taesd:
            write_taesd_decoder(args.taesd, seed=args.seed)
        if args.taesd_encoder:
            write_taesd_encoder(args.taesd_encoder, seed=args.seed)
        return
    if args.lora:
        if not args.checkpoint:
            parser.error("--lora needs --checkpoint")
        write_lora(args.checkpoint, args.lora, seed=args.seed)
        return
    if not args.out:
        parser.error("--out is required")
    dtype = DTYPES.get(args.dtype) if args.dtype else None
    if args.markers:
        _write_marked(args, parser, dtype)
        return
    write_checkpoint(args.family, args.size, args.out, args.seed, dtype)


def _write_marked(args: argparse.Namespace, parser: argparse.ArgumentParser, dtype: torch.dtype | None) -> None:
    from comfy_core.tools.make_marked import write_marked_checkpoint

    if args.family in ("sd21_unclip", "sd_x4_upscaler"):
        parser.error(f"--markers is not available for --family {args.family}")
    write_marked_checkpoint(args.family, args.markers, args.out, args.size, args.seed, dtype,
                            sigma_min=args.sigma_min, sigma_max=args.sigma_max)


def _add_extra_kinds(parser: argparse.ArgumentParser) -> None:
    """Flags for the model kinds besides checkpoints, each written by its own module."""
    parser.add_argument("--clip-vision", choices=["vit-l", "vit-h", "vit-g"], help="write a CLIP vision "
                        "encoder of this shape to --out")
    parser.add_argument("--clip-vision-layout", default="hf", choices=["hf", "openclip"],
                        help="key layout of --clip-vision: transformers' (hf) or OpenCLIP's")
    parser.add_argument("--style-model", action="store_true", help="write a T2I-Adapter style model to --out")
    parser.add_argument("--gligen", action="store_true", help="write a GLIGEN model (SD1.x) to --out")
    parser.add_argument("--hypernetwork", action="store_true", help="write a hypernetwork (SD1.x) to --out")
    parser.add_argument("--photomaker", action="store_true", help="write a PhotoMaker ID encoder to --out")
    parser.add_argument("--lotus", action="store_true", help="write a Lotus-D depth/normal UNet (diffusion "
                        "model layout, for UNETLoader) to --out")


def _write_extra_kind(args: argparse.Namespace, parser: argparse.ArgumentParser) -> bool:
    """Write the kind asked for by one of `_add_extra_kinds`' flags; False when none was."""
    if args.clip_vision:
        from comfy_core.tools.make_clip_vision import write_clip_vision as write

        def writer(out, size, seed):
            return write(args.clip_vision, out, size=size, layout=args.clip_vision_layout, seed=seed)
    elif args.style_model:
        from comfy_core.tools.make_style_model import write_style_model as writer
    elif args.gligen:
        from comfy_core.tools.make_gligen import write_gligen as writer
    elif args.hypernetwork:
        from comfy_core.tools.make_hypernetwork import write_hypernetwork as writer
    elif args.photomaker:
        from comfy_core.tools.make_photomaker import write_photomaker as writer
    elif args.lotus:
        from comfy_core.tools.make_lotus import write_lotus_unet as writer
    else:
        return False
    if not args.out:
        parser.error("this kind needs --out")
    writer(args.out, size=args.size, seed=args.seed)
    return True


if __name__ == "__main__":
    main()
