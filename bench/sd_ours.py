"""Our engine in the SD benchmark: the real built-in nodes (CheckpointLoaderSimple,
CLIPTextEncode, EmptyLatentImage, KSampler, VAEDecode) over one MemoryManager, exactly as
the server runs them, minus HTTP."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from sd_common import Workload, sync

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.memory import MemoryManager, MemoryOptions, VramState
from comfy_core.settings import MemoryFlags, Settings


def _node(name: str, **inputs: Any) -> tuple:
    import nodes

    cls = nodes.NODE_CLASS_MAPPINGS[name]
    return getattr(cls(), cls.FUNCTION)(**inputs)


def _options(workload: Workload) -> MemoryOptions:
    if workload.device == "cpu":
        return MemoryOptions(vram_state=VramState.DISABLED)
    state = VramState.LOW_VRAM if workload.lowvram else VramState.NORMAL_VRAM
    return MemoryOptions(vram_state=state, force_fp16=workload.half, force_fp32=not workload.half)


def place_checkpoint(path: Path, folder: Path) -> Path:
    """The checkpoint inside the models folder (symlinks out of it are refused on
    purpose): a hard link when possible, else a copy."""
    target = folder / path.name
    if target.is_symlink():
        target.unlink()
    if target.exists():
        return target
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    return target


class Ours:
    name = "ours"

    def __init__(self, workload: Workload, base: Path, cap_bytes: int | None = None) -> None:
        """`base` is a base directory whose models/checkpoints gets the checkpoint and whose
        user dir keeps --compile's caches between runs."""
        self.w = workload
        ckpts = base / "models" / "checkpoints"
        ckpts.mkdir(parents=True, exist_ok=True)
        place_checkpoint(workload.checkpoint, ckpts)
        device = "cpu" if workload.device == "cpu" else workload.device
        self.memory = MemoryManager(_options(workload), device, total_memory=cap_bytes)
        settings = Settings(base_directory=base, memory=MemoryFlags(compile=workload.compile))
        self.ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=settings, memory=self.memory)
        self.model = self.clip = self.vae = None
        self.positive = self.negative = None

    def load(self) -> None:
        """Checkpoint file -> UNet ready on the device (text encoders and VAE load lazily)."""
        with runtime.use_app(self.ctx):
            self.model, self.clip, self.vae = _node("CheckpointLoaderSimple", ckpt_name=self.w.checkpoint.name)
            self.memory.ensure_loaded([self.model])
        sync(self.w.device)

    def encode(self, positive: str, negative: str) -> None:
        with runtime.use_app(self.ctx):
            self.positive = _node("CLIPTextEncode", clip=self.clip, text=positive)[0]
            self.negative = _node("CLIPTextEncode", clip=self.clip, text=negative)[0]

    def conditioning(self) -> dict[str, torch.Tensor]:
        """The prompt tensors, so the peer samples with exactly the same conditioning."""
        (cond, extra), (uncond, uextra) = self.positive[0], self.negative[0]
        out = {"cond": cond, "uncond": uncond}
        if extra.get("pooled_output") is not None:
            out.update(pooled=extra["pooled_output"], upooled=uextra["pooled_output"])
        return out

    def sample(self, batch: int) -> dict:
        w = self.w
        with runtime.use_app(self.ctx):
            latent = _node("EmptyLatentImage", width=w.size, height=w.size, batch_size=batch)[0]
            return _node("KSampler", model=self.model, seed=w.seed, steps=w.steps, cfg=w.cfg, sampler_name="euler",
                         scheduler="normal", positive=self.positive, negative=self.negative,
                         latent_image=latent, denoise=1.0)[0]

    def decode(self, latent: dict) -> torch.Tensor:
        with runtime.use_app(self.ctx):
            return _node("VAEDecode", vae=self.vae, samples=latent)[0]

    def unload(self) -> None:
        self.memory.unload_all()
        self.model = self.clip = self.vae = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
