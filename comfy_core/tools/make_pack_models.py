"""Tiny random model files in the layouts popular custom-node packs load, for trying those
packs on tiny checkpoints (docs/plugins.md):

    python -m comfy_core.tools.make_pack_models --gguf models/unet/tiny_q8.gguf --checkpoint tiny.safetensors
    python -m comfy_core.tools.make_pack_models --ipadapter models/ipadapter/ip-adapter_sd15_tiny.safetensors \
        --checkpoint tiny.safetensors --clip-vision models/clip_vision/tiny_h.safetensors
    python -m comfy_core.tools.make_pack_models --narrow-sd15 models/checkpoints/sd15_narrow.safetensors

- GGUF (ComfyUI-GGUF): the checkpoint's UNet under its LDM names, architecture "sd1" or
  "sdxl", 2-D weights whose rows are whole 32-value blocks quantized to Q8_0, other
  matrices F16, vectors F32 (tensor shapes stored innermost-first, as GGUF does). Needs the
  `gguf` package (a test dependency).
- IP-Adapter (ComfyUI_IPAdapter_plus, the "ip-adapter_sd15" layout): `image_proj.proj`
  (CLIP image embedding -> 4 context tokens) and `image_proj.norm`, and `to_k_ip` /
  `to_v_ip` for the 16 cross-attention layers SD1.5 has, numbered 1, 3, ..., 31 in the
  order input blocks 1, 2, 4, 5, 7, 8, output blocks 3-11, middle block. Each layer is as
  wide as the checkpoint's attention at that block (blocks a tiny UNet lacks get its
  narrowest width; nothing patches them).
- A narrow SD1.5 checkpoint: SD1.5's real UNet (four levels, two ResBlocks each, twelve
  input blocks) at 32 channels, with the tiny text encoder and VAE, for packs that index
  SD1.5's blocks by number (Advanced-ControlNet's reference mode).
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict

log = logging.getLogger(__name__)

UNET_PREFIX = "model.diffusion_model."
Q8_BLOCK = 32  # values per Q8_0 block
IPADAPTER_TOKENS = 4
# SD1.5's cross-attention blocks in IP-Adapter's layer order (block kind, index).
IPADAPTER_SD15_BLOCKS = ([("input_blocks", i) for i in (1, 2, 4, 5, 7, 8)]
                         + [("output_blocks", i) for i in range(3, 12)] + [("middle_block", None)])
_ATTN2 = re.compile(r"(input_blocks|output_blocks|middle_block)\.(?:(\d+)\.)?\d+\.transformer_blocks\.0\.attn2\.to_k\.weight$")


def write_gguf_unet(checkpoint: str | Path, out: str | Path, arch: str = "sd1") -> Path:
    """The checkpoint's UNet as a GGUF file (see the module docstring)."""
    try:
        import gguf
    except ImportError as exc:
        raise SystemExit("writing GGUF files needs the gguf package (pip install gguf)") from exc
    unet = {k[len(UNET_PREFIX):]: v for k, v in load_state_dict(checkpoint).items() if k.startswith(UNET_PREFIX)}
    if not unet:
        raise SystemExit(f"{checkpoint}: no '{UNET_PREFIX}*' weights")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch=arch)
    for name, tensor in unet.items():
        values = tensor.float().numpy()
        if values.ndim == 2 and values.shape[-1] % Q8_BLOCK == 0:
            packed = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, values.astype("float16" if values.ndim >= 2 else "float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.info("wrote %d tensors to %s", len(unet), out)
    return out


def _attention_widths(checkpoint_state: dict[str, torch.Tensor]) -> tuple[dict, int]:
    """({(block kind, index): attention width}, context width) of a checkpoint's UNet."""
    widths, context = {}, None
    for key, tensor in checkpoint_state.items():
        match = _ATTN2.search(key[len(UNET_PREFIX):]) if key.startswith(UNET_PREFIX) else None
        if match:
            index = int(match.group(2)) if match.group(2) is not None else None
            widths[(match.group(1), index)] = int(tensor.shape[0])
            context = int(tensor.shape[1])
    if context is None:
        raise SystemExit("the checkpoint has no cross-attention layers")
    return widths, context


def write_ipadapter(checkpoint: str | Path, clip_vision: str | Path, out: str | Path, seed: int = 0) -> Path:
    """A tiny SD1.5 IP-Adapter for `checkpoint` fed by `clip_vision`'s image embeddings."""
    widths, context = _attention_widths(load_state_dict(checkpoint))
    embed = int(load_state_dict(clip_vision)["visual_projection.weight"].shape[0])
    gen = torch.Generator().manual_seed(seed)
    state = {"image_proj.proj.weight": torch.randn(context * IPADAPTER_TOKENS, embed, generator=gen) * 0.1,
             "image_proj.proj.bias": torch.zeros(context * IPADAPTER_TOKENS),
             "image_proj.norm.weight": torch.ones(context), "image_proj.norm.bias": torch.zeros(context)}
    narrowest = min(widths.values())
    for n, block in enumerate(IPADAPTER_SD15_BLOCKS):
        for kind in ("k", "v"):
            state[f"ip_adapter.{2 * n + 1}.to_{kind}_ip.weight"] = (
                torch.randn(widths.get(block, narrowest), context, generator=gen) * 0.2)
    save_state_dict(state, out)
    return Path(out)


def write_narrow_sd15(out: str | Path, seed: int = 0) -> Path:
    """SD1.5 with its real block structure at 32 channels (see the module docstring)."""
    import dataclasses

    from comfy_core.models.family import FAMILIES
    from comfy_core.tools.make_checkpoint import build_checkpoint, layout

    tiny = layout("sd15", "tiny")
    unet = dataclasses.replace(FAMILIES["sd15"].unet, model_channels=32, context_dim=tiny.unet.context_dim)
    save_state_dict(build_checkpoint(dataclasses.replace(tiny, unet=unet), seed), out)
    return Path(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write tiny model files in custom-node packs' layouts.")
    parser.add_argument("--checkpoint", help="the tiny checkpoint a GGUF or IP-Adapter file is made for")
    parser.add_argument("--narrow-sd15", help="write a narrow SD1.5 checkpoint of the real depth to this file")
    parser.add_argument("--gguf", help="write its UNet as GGUF to this file")
    parser.add_argument("--arch", default="sd1", choices=["sd1", "sdxl"], help="GGUF architecture name")
    parser.add_argument("--ipadapter", help="write a tiny SD1.5 IP-Adapter to this file (needs --clip-vision)")
    parser.add_argument("--clip-vision", help="the CLIP vision file whose embeddings the IP-Adapter takes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.narrow_sd15:
        write_narrow_sd15(args.narrow_sd15, args.seed)
    if (args.gguf or args.ipadapter) and not args.checkpoint:
        parser.error("--gguf and --ipadapter need --checkpoint")
    if not (args.gguf or args.ipadapter or args.narrow_sd15):
        parser.error("give --gguf, --ipadapter and/or --narrow-sd15")
    if args.gguf:
        write_gguf_unet(args.checkpoint, args.gguf, args.arch)
    if args.ipadapter:
        if not args.clip_vision:
            parser.error("--ipadapter needs --clip-vision")
        write_ipadapter(args.checkpoint, args.clip_vision, args.ipadapter, args.seed)


if __name__ == "__main__":
    main()
