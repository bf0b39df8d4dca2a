import pytest
import torch

from comfy_core.memory import MemoryManager, MemoryOptions, VramState, is_oom
from tiny_managed import TinyManagedModel, linear_stack


def cuda_oom() -> None:
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture
def manager() -> MemoryManager:
    options = MemoryOptions(vram_state=VramState.NORMAL_VRAM, reserve_bytes=0, min_inference_bytes=0)
    return MemoryManager(options, "cpu", total_memory=10_000)


def test_is_oom():
    with pytest.raises(torch.OutOfMemoryError) as info:
        cuda_oom()
    assert is_oom(info.value)
    assert is_oom(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert is_oom(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not is_oom(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_oom(ValueError("out of memory"))


def test_oom_frees_models_and_runs_cheaper_fallback(manager):
    model = TinyManagedModel(linear_stack(2), "vae")
    manager.ensure_loaded([model])
    seen = []

    def tiled() -> str:
        seen.append(manager.loaded_models())
        return "tiled"

    assert manager.with_oom_retry(cuda_oom, [tiled]) == "tiled"
    assert seen == [[]]  # everything was offloaded before the fallback ran
    assert model.offload_calls == 1


def test_oom_tries_fallbacks_in_order_and_raises_the_last(manager):
    calls = []

    def failing(name):
        def run():
            calls.append(name)
            cuda_oom()
        return run

    with pytest.raises(torch.OutOfMemoryError):
        manager.with_oom_retry(failing("full"), [failing("tile512"), failing("tile256")])
    assert calls == ["full", "tile512", "tile256"]


def test_other_errors_are_not_retried(manager):
    fallback_ran = []

    def broken():
        raise ValueError("bad latent shape")

    with pytest.raises(ValueError, match="bad latent shape"):
        manager.with_oom_retry(broken, [lambda: fallback_ran.append(True)])
    assert fallback_ran == []


def test_success_needs_no_fallback(manager):
    assert manager.with_oom_retry(lambda: 7, [lambda: 8]) == 7
