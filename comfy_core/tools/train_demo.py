"""Train the built-in demo model: a tiny SD1-layout text-to-image checkpoint of coloured
shapes, so a fresh clone can make a picture with no downloaded weights.

    python -m comfy_core.tools.train_demo            # full run, writes the committed file
    python -m comfy_core.tools.train_demo --quick --out /some/where.safetensors

The data set is drawn procedurally (`demo.scenes`), the VAE is trained first, then the UNet
jointly with a small CLIP text encoder (`demo.train`). With a fixed seed, thread count and
deterministic algorithms the same command on the same machine writes the same bytes.
The file uses the real SD1 single-file key layout and loads through `load_checkpoint`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.tools.demo import train
from comfy_core.tools.demo.scenes import make_scenes

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
QUICK = train.TrainConfig(scenes=48, vae_steps=3, vae_batch=4, unet_steps=3,
                          unet_batch=4, warmup=1)
COMMAND = "python -m comfy_core.tools.train_demo"


def checkpoint_state(unet: nn.Module, vae: nn.Module, clip: nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The SD1 single-file layout, as `make_checkpoint` writes it: UNet under
    `model.diffusion_model.`, VAE under `first_stage_model.`, CLIP (Hugging Face names)
    under `cond_stage_model.transformer.`."""
    parts = ((km.UNET_PREFIXES[0], unet), (km.VAE_PREFIX, vae), (km.CLIP_L_PREFIX, clip))
    state = {}
    for prefix, module in parts:
        for key, t in module.state_dict().items():
            if not key.endswith("position_ids"):
                state[prefix + key] = t.detach().to(dtype).contiguous()
    return state


def _bar(total: int, desc: str) -> tuple[tqdm, train.Progress]:
    bar = tqdm(total=total, desc=desc, unit="step", mininterval=2.0)

    def progress(step: int, loss: float) -> None:
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    return bar, progress


def _tracking(total: int, desc: str) -> tuple[tqdm, list[float], train.Progress]:
    """A progress bar plus the list of losses it has seen."""
    bar, tick = _bar(total, desc)
    losses: list[float] = []

    def progress(step: int, loss: float) -> None:
        losses.append(loss)
        tick(step, loss)

    return bar, losses, progress


def run(cfg: train.TrainConfig, out: Path, threads: int) -> dict[str, object]:
    """Build the data, train VAE then UNet + text encoder, write `out`; returns a summary."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    start = time.monotonic()
    scenes, images = make_scenes(cfg.scenes, cfg.seed)
    bar, vae_losses, progress = _tracking(cfg.vae_steps, "vae")
    vae = train.train_vae(images, cfg, progress)
    bar.close()
    held_out = make_scenes(64, cfg.seed + 1000)[1]
    vae_l1 = train.reconstruction_error(vae, held_out)
    log.info("VAE reconstruction L1 on held-out scenes: %.4f", vae_l1)
    latents, k = train.normalise_latent_scale(vae, train.encode_all(vae, images))
    x0 = latents * train.SCALE_FACTOR
    bar, unet_losses, progress = _tracking(cfg.unet_steps, "unet")
    unet, clip = train.train_unet(x0, scenes, cfg, progress)
    bar.close()
    state = checkpoint_state(unet, vae, clip, torch.float16)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One metadata key: safetensors writes several in hash order, which would change the bytes.
    info = json.dumps({"model": "shapes-sd1-tiny", "command": COMMAND, "config": dataclasses.asdict(cfg)}, sort_keys=True)
    save_state_dict(state, out, metadata={"comfy_core.demo": info})
    tail = max(1, len(unet_losses) // 10)
    return {
        "file": str(out),
        "bytes": out.stat().st_size,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "seconds": round(time.monotonic() - start, 1),
        "vae_loss_last": round(sum(vae_losses[-tail:]) / len(vae_losses[-tail:]), 5),
        "vae_heldout_l1": round(vae_l1, 4),
        "unet_loss_last": round(sum(unet_losses[-tail:]) / len(unet_losses[-tail:]), 5),
        "latent_rescale": round(k, 5),
        "latent_std_scaled": round(float(x0.std()), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the built-in demo checkpoint (CPU, deterministic).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoint to write")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (tiny data, 3 steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (part of what fixes the bytes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = dataclasses.replace(QUICK if args.quick else train.TrainConfig(), seed=args.seed)
    summary = run(cfg, args.out, args.threads)
    for key, value in summary.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
