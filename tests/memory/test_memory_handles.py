"""Handles stream through comfy_core.memory.streaming: casting, re-planning, LoRA under a
budget, CLIP with its embeddings streamed, and /system_stats from the manager."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.memory.streaming import stream_layers
from comfy_core.models.lora import apply_lora
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora
from tiny_managed import linear_stack

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _hooks(module: nn.Module) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in module.modules())


def _unet_out(model, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = model.model
    x, t = torch.randn(2, 4, 8, 8, generator=g), torch.tensor([500.0, 20.0])
    ctx = torch.randn(2, 77, base.family.unet.context_dim, generator=g)
    y = torch.randn(2, base.family.adm_size, generator=g) if base.family.adm_size else None
    with torch.no_grad():
        return base.diffusion_model(x.to(model.device, base.compute_dtype()), t, ctx, y).float().cpu()


@pytest.fixture(scope="module")
def sdxl_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint("sdxl", tmp_path_factory.mktemp("ckpt"))


@pytest.mark.parametrize(("budget", "resident"), [(None, 432), (0, 0), (300, 288)])
def test_compute_dtype_casts_resident_and_streamed_layers(budget, resident):
    net = linear_stack(3).half()
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = linear_stack(3).half().float()(x)
    handle = stream_layers(net, "cpu", budget, compute_dtype=torch.float32)
    assert handle.resident_bytes == resident  # fp16 Linear(8, 8): 144 bytes
    with torch.no_grad():
        assert torch.equal(net(x), expected)
    assert all(p.dtype == torch.float16 for p in net.parameters())  # storage unchanged
    handle.undo()
    assert _hooks(net) == 0


def test_no_hooks_when_everything_fits_and_dtypes_match():
    net = linear_stack(3)
    handle = stream_layers(net, "cpu", None, compute_dtype=torch.float32)
    assert handle.streamed == [] and _hooks(net) == 0


def test_undo_without_offload_keeps_resident_tensors():
    net = linear_stack(2)
    handle = stream_layers(net, "cpu", None)
    ptr = net[0].weight.data_ptr()
    handle.undo(offload=False)
    assert net[0].weight.data_ptr() == ptr


def test_replanning_the_budget_keeps_results_and_leaves_no_hooks(sdxl_path: Path) -> None:
    model = load_checkpoint(sdxl_path).model
    model.load("cpu")
    full = _unet_out(model)
    size = model.model_size()
    for budget in (size // 2, 0, size // 5, None):
        model.load("cpu", budget)
        assert model.loaded_size() == size if budget is None else model.loaded_size() <= budget
        torch.testing.assert_close(_unet_out(model), full, rtol=0, atol=0)
    assert _hooks(model.model) == 0
    model.offload()
    assert model.loaded_size() == 0 and _hooks(model.model) == 0


def test_lora_patches_reach_streamed_layers(sdxl_path: Path, tmp_path: Path) -> None:
    lora = load_file(str(make_tiny_lora(sdxl_path, tmp_path / "l.safetensors")))
    patched = apply_lora(load_checkpoint(sdxl_path).model, None, lora, 0.7)[0]
    patched.load("cpu")
    want = _unet_out(patched, seed=3)
    ckpt = load_checkpoint(sdxl_path)
    base = ckpt.model
    base.load("cpu", 0)
    plain = _unet_out(base, seed=3)
    model = apply_lora(base, None, lora, 0.7)[0]
    model.load("cpu", 0)  # everything streamed: the patch goes into the host copies
    torch.testing.assert_close(_unet_out(model, seed=3), want, rtol=0, atol=0)
    base.load("cpu", model.model_size() // 3)  # back to the unpatched clone, partly resident
    torch.testing.assert_close(_unet_out(base, seed=3), plain, rtol=0, atol=0)


def test_clip_encodes_with_every_layer_streamed(sdxl_path: Path) -> None:
    ckpt = load_checkpoint(sdxl_path, clip_dtype=torch.float16)
    ids = torch.full((1, 77), 49407)
    ids[0, :3] = torch.tensor([49406, 320, 49407])
    ckpt.clip.patcher.load("cpu")
    want = ckpt.clip.encode_ids("clip_g", ids)
    ckpt.clip.patcher.load("cpu", 0)
    assert ckpt.clip.patcher.loaded_size() == 0
    got = ckpt.clip.encode_ids("clip_g", ids)
    for a, b in zip(got, want):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@CUDA
def test_cuda_clip_partial_load_takes_the_device_from_the_input(sdxl_path: Path) -> None:
    ckpt = load_checkpoint(sdxl_path)
    ids = torch.full((1, 77), 49407)
    ckpt.clip.patcher.load("cpu")
    want = ckpt.clip.encode_ids("clip_l", ids)
    ckpt.clip.patcher.load("cuda", 0)  # position ids live on the host between forwards
    got = ckpt.clip.encode_ids("clip_l", ids)
    torch.testing.assert_close(got[0], want[0], rtol=1e-4, atol=1e-4)


def test_system_stats_come_from_the_manager(tmp_path: Path) -> None:
    from comfy_core.services import build_memory
    from comfy_core.settings import parse_settings

    settings = parse_settings(["--cpu", "--base-directory", str(tmp_path)], {})
    manager, stats = build_memory(settings)
    reported = stats()
    assert reported[0]["type"] == "cpu" and reported[0]["index"] is None
    assert set(reported[0]) == set(manager.stats()[0])
