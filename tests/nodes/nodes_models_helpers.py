"""Shared setup for the model-node tests: a models folder with tiny sd15 / sd21v / sdxl
checkpoints and a LoRA, installed as the running app, and a one-line node runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nodes
from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.settings import Settings
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora

FAMILIES = ("sd15", "sd21v", "sdxl")
LORA = "sd15_lora.safetensors"


def build_models(base: Path, families=FAMILIES) -> Path:
    """Write tiny checkpoints (seed 0) and an sd15 LoRA under `base`/models."""
    ckpts = base / "models" / "checkpoints"
    for family in families:
        make_tiny_checkpoint(family, ckpts)
    if "sd15" in families:
        make_tiny_lora(ckpts / "sd15_tiny.safetensors", base / "models" / "loras" / LORA, seed=1)
    return base


@pytest.fixture(scope="module")
def models_app(tmp_path_factory):
    """App context whose checkpoints folder holds `<family>_tiny.safetensors`."""
    base = build_models(tmp_path_factory.mktemp("models"))
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield ctx


def run(name: str, **inputs):
    """Call node `name`'s FUNCTION with `inputs`; returns its output tuple."""
    cls = nodes.NODE_CLASS_MAPPINGS[name]
    return getattr(cls(), cls.FUNCTION)(**inputs)


def load(family: str):
    """(MODEL, CLIP, VAE) of the tiny checkpoint of `family`."""
    return run("CheckpointLoaderSimple", ckpt_name=f"{family}_tiny.safetensors")


def encode(clip, text: str) -> list:
    return run("CLIPTextEncode", clip=clip, text=text)[0]


def ksample(model, pos, neg, latent, *, seed=0, steps=2, cfg=7.0, sampler="euler", scheduler="normal",
            denoise=1.0) -> dict:
    return run("KSampler", model=model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler,
               scheduler=scheduler, positive=pos, negative=neg, latent_image=latent, denoise=denoise)[0]


def empty_latent(size: int = 64, batch: int = 1) -> dict:
    return run("EmptyLatentImage", width=size, height=size, batch_size=batch)[0]


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.equal(a, b))
