"""OOM recovery on a budget-enforcing fake device: batch splitting, partial loading, clear
errors, and nothing left behind for the next job."""

from __future__ import annotations

import pytest
import torch

from comfy_core.memory import MemoryManager, MemoryOptions, VramState
from comfy_core.memory.recovery import BatchSplitter, OomRecovery, retry_on_oom
from fake_device import BudgetedDevice
from torch import nn

from tiny_managed import TinyManagedModel, linear_stack

WIDTH = 32
ROW = 4 * WIDTH * 4  # bytes of one row of the widest activation, (1, 128) float32


def widening(seed: int = 0) -> nn.Sequential:
    """Per-sample net whose hidden activation is 4x its output, like a UNet's."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(WIDTH, 4 * WIDTH), nn.GELU(), nn.Linear(4 * WIDTH, WIDTH)).eval()


def _manager(model: TinyManagedModel, room: int) -> MemoryManager:
    """A device exactly the model's size plus `room` bytes."""
    options = MemoryOptions(vram_state=VramState.NORMAL_VRAM, reserve_bytes=0, min_inference_bytes=0)
    return MemoryManager(options, "cpu", total_memory=model.model_size() + room)


def _setup(room: int) -> tuple[TinyManagedModel, MemoryManager, torch.Tensor, torch.Tensor]:
    model = TinyManagedModel(widening(), "unet")
    manager = _manager(model, room)
    x = torch.randn(8, WIDTH, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.module(x)
    manager.ensure_loaded([model])
    return model, manager, x, expected


def _forward(model: TinyManagedModel, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.module(x)


def test_batch_splitter_halves_until_it_fits_and_remembers():
    model, manager, x, expected = _setup(room=5 * ROW)  # 8 rows fail; 4 rows and the output fit
    recovery = OomRecovery(manager, keep=[model])
    call = recovery.splitter(lambda t: _forward(model, t))
    with BudgetedDevice(manager.free_memory) as device:
        out = call(x)
        assert device.ooms == 1 and call.max_batch == 4
        again = call(x)
        assert device.ooms == 1  # the next step starts at the size that worked
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(again, expected)


def test_batch_splitter_passes_non_batched_arguments_through():
    seen = []

    def fn(a: torch.Tensor, scale: torch.Tensor, extra: None) -> torch.Tensor:
        seen.append((a.shape[0], scale.shape[0]))
        if a.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return a * scale[0]

    splitter = BatchSplitter(fn, on_oom=lambda: None)
    out = splitter(torch.arange(5.0), torch.tensor([2.0]), None)
    assert torch.equal(out, torch.arange(5.0) * 2)
    assert seen[0] == (5, 1) and seen[1] == (3, 1) and all(s == 1 for _, s in seen)


def test_batch_splitter_does_not_retry_other_errors():
    def fn(a: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    splitter = BatchSplitter(fn, on_oom=lambda: pytest.fail("must not free memory"))
    with pytest.raises(RuntimeError, match="shapes"):
        splitter(torch.zeros(4, 2))


def test_partial_loading_when_batch_one_still_fails():
    model, manager, x, expected = _setup(room=ROW // 2)  # not even one row fits fully loaded
    recovery = OomRecovery(manager, keep=[model])
    call = recovery.splitter(lambda t: _forward(model, t))
    with BudgetedDevice(manager.free_memory) as device:
        out = recovery.run_streaming(model, lambda: call(x), "sampling")
    assert device.ooms >= 4  # 8, 4, 2, 1 rows while fully loaded
    assert model.load_calls[-1] is not None and manager.is_partially_loaded(model)
    torch.testing.assert_close(out, expected)
    manager.ensure_loaded([model])  # the next job: room again for a full load
    assert not manager.is_partially_loaded(model) and model.loaded_size() == model.model_size()


def test_other_models_are_offloaded_before_the_retry():
    model, manager, x, expected = _setup(room=20 * ROW)
    other = TinyManagedModel(linear_stack(1, WIDTH, seed=1), "clip")
    manager.ensure_loaded([other])  # fits beside the first model
    assert set(map(id, manager.loaded_models())) == {id(model), id(other)}
    attempts = []

    def run() -> torch.Tensor:
        attempts.append(len(manager.loaded_models()))
        if len(attempts) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return _forward(model, x)

    out = OomRecovery(manager, keep=[model]).run(run, "decode")
    assert attempts == [2, 1] and other.offload_calls == 1
    torch.testing.assert_close(out, expected)


def test_clear_error_when_nothing_helps():
    model, manager, x, _ = _setup(room=0)
    recovery = OomRecovery(manager, keep=[model])
    with BudgetedDevice(lambda: 0):
        with pytest.raises(torch.OutOfMemoryError, match="Out of memory in sampling: still failing after 3"):
            recovery.run_streaming(model, lambda: _forward(model, x), "sampling")
    # The failed job leaves no streaming hooks half-installed and no fetched copies behind.
    manager.ensure_loaded([model])
    assert model.loaded_size() == model.model_size()
    assert all(not m._forward_pre_hooks for m in model.module.modules())
    assert all(p.data_ptr() for p in model.module.parameters())


def test_retry_on_oom_needs_an_attempt_and_keeps_other_errors():
    with pytest.raises(ValueError, match="at least one"):
        retry_on_oom([], lambda: None, "x")
    with pytest.raises(KeyError):
        retry_on_oom([lambda: {}["missing"]], lambda: None, "x")


def test_manager_with_oom_retry_keeps_the_named_models():
    model, manager, _, _ = _setup(room=ROW)
    other = TinyManagedModel(linear_stack(1, WIDTH, seed=1), "clip")

    def fail() -> str:
        raise torch.OutOfMemoryError("CUDA out of memory")

    assert manager.with_oom_retry(fail, [lambda: "tiled"], keep=[model, other]) == "tiled"
    assert model.offload_calls == 0 and manager.loaded_models() == [model]
