import gc

import pytest
import torch

from comfy_core.memory import ManagedModel, MemoryManager, MemoryOptions, VramState
from tiny_managed import LINEAR8_BYTES, TinyManagedModel, linear_stack


def make_manager(total: int, state: VramState = VramState.NORMAL_VRAM, **kw) -> MemoryManager:
    options = MemoryOptions(vram_state=state, reserve_bytes=0, min_inference_bytes=0, **kw)
    return MemoryManager(options, "cpu", total_memory=total)


def one_layer(name: str, seed: int = 0) -> TinyManagedModel:
    return TinyManagedModel(linear_stack(1, seed=seed), name)


def test_tiny_model_implements_protocol():
    assert isinstance(one_layer("a"), ManagedModel)


def test_fake_cpu_device_uses_requested_state_and_real_cpu_is_disabled():
    assert make_manager(1000).vram_state == VramState.NORMAL_VRAM
    real = MemoryManager(MemoryOptions(vram_state=VramState.NORMAL_VRAM), "cpu")
    assert real.vram_state == VramState.DISABLED


def test_lru_model_is_offloaded_first():
    manager = make_manager(1000)
    a, b, c, d = (one_layer(n) for n in "abcd")
    for model in (a, b, c):
        manager.ensure_loaded([model])
    assert manager.loaded_models() == [a, b, c]
    manager.ensure_loaded([a])  # a is now the most recently used
    manager.ensure_loaded([d])  # needs 1.1 * 288 bytes: only b must go
    assert manager.loaded_models() == [c, a, d]
    assert b.loaded_size() == 0 and b.offload_calls == 1
    assert a.offload_calls == 0 and a.load_calls == [None]
    assert manager.free_memory() == 1000 - 3 * LINEAR8_BYTES


def test_models_of_one_step_are_not_evicted_for_each_other():
    manager = make_manager(700)
    a, b = one_layer("a"), one_layer("b")
    manager.ensure_loaded([a, b])
    assert {id(m) for m in manager.loaded_models()} == {id(a), id(b)}
    assert a.loaded_size() + b.loaded_size() <= 700


def test_extra_bytes_counts_as_inference_memory():
    manager = make_manager(1000)
    a, b = one_layer("a"), one_layer("b")
    manager.ensure_loaded([a])
    manager.ensure_loaded([b], extra_bytes=500)  # 317 + 500 > 712 free: a is evicted
    assert manager.loaded_models() == [b]


def test_working_memory_evicts_others_but_never_shrinks_a_loaded_model():
    manager = make_manager(1000)
    a, b, c = (one_layer(n) for n in "abc")
    for model in (a, b, c):
        manager.ensure_loaded([model])
    manager.ensure_loaded([b], extra_bytes=200)  # 136 bytes free: the LRU model a goes
    assert manager.loaded_models() == [c, b]
    assert b.load_calls == [None] and not manager.is_partially_loaded(b)
    manager.ensure_loaded([b], extra_bytes=900)  # cannot be met: b still stays whole
    assert manager.loaded_models() == [b] and b.load_calls == [None]


def test_model_offloaded_behind_the_managers_back_is_reloaded():
    manager = make_manager(1000)
    a = one_layer("a")
    manager.ensure_loaded([a])
    a.offload()  # e.g. a clone sharing the same module was offloaded
    manager.ensure_loaded([a])
    assert a.load_calls == [None, None] and a.loaded_size() == a.model_size()


def test_partial_load_keeps_budget_and_output():
    model = TinyManagedModel(linear_stack(3), "big")
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.module(x)
    manager = make_manager(700)
    manager.ensure_loaded([model], extra_bytes=100)
    assert model.load_calls == [600]
    assert manager.is_partially_loaded(model)
    assert model.loaded_size() == 2 * LINEAR8_BYTES <= 600
    with torch.no_grad():
        assert torch.equal(model.module(x), expected)


def test_partial_model_is_not_replanned_every_step():
    model = TinyManagedModel(linear_stack(3), "big")
    manager = make_manager(700)
    manager.ensure_loaded([model])
    manager.ensure_loaded([model])
    assert model.load_calls == [700]


def test_partial_model_grows_to_full_when_others_leave():
    manager = make_manager(1000)
    small = one_layer("small")
    big = TinyManagedModel(linear_stack(3), "big")
    manager.ensure_loaded([small])
    manager.ensure_loaded([small, big])  # both needed: big gets what is left
    assert manager.is_partially_loaded(big)
    manager.ensure_loaded([big])  # small may go now, big fits whole
    assert small.loaded_size() == 0
    assert not manager.is_partially_loaded(big)
    assert big.loaded_size() == big.model_size()


@pytest.mark.parametrize(
    ("state", "budget", "resident_layers"),
    [(VramState.NO_VRAM, 0, 0), (VramState.LOW_VRAM, int(700 / 1.3), 1)],
)
def test_low_and_no_vram_budgets(state, budget, resident_layers):
    model = TinyManagedModel(linear_stack(3), "big")
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model.module(x)
    manager = make_manager(700, state)
    manager.ensure_loaded([model])
    assert model.load_calls == [budget]
    assert model.loaded_size() == resident_layers * LINEAR8_BYTES
    with torch.no_grad():
        assert torch.equal(model.module(x), expected)


def test_no_vram_does_not_evict_for_streamed_models():
    manager = make_manager(1000, VramState.NO_VRAM)
    a, b = one_layer("a"), one_layer("b")
    manager.ensure_loaded([a])
    manager.ensure_loaded([b])
    assert a.offload_calls == 0 and a.load_calls == [0] and b.load_calls == [0]


def test_high_vram_loads_fully_and_never_evicts():
    manager = make_manager(600, VramState.HIGH_VRAM)
    models = [one_layer(n) for n in "abc"]
    for model in models:
        manager.ensure_loaded([model])
    assert all(m.load_calls == [None] and m.offload_calls == 0 for m in models)
    assert manager.free_memory() == 0
    assert manager.offload_device == manager.device


def test_disabled_state_loads_fully_without_budget():
    manager = MemoryManager(MemoryOptions(vram_state=VramState.DISABLED), "cpu", total_memory=100)
    model = TinyManagedModel(linear_stack(3), "big")
    manager.ensure_loaded([model])
    assert model.load_calls == [None] and not manager.is_partially_loaded(model)


def test_free_offload_and_unload_all():
    manager = make_manager(1000)
    a, b, c = (one_layer(n) for n in "abc")
    for model in (a, b, c):
        manager.ensure_loaded([model])
    free_after = manager.free(1000 - LINEAR8_BYTES, keep=[a])
    assert free_after == 1000 - LINEAR8_BYTES
    assert manager.loaded_models() == [a]
    manager.offload(a)
    assert manager.loaded_models() == [] and a.loaded_size() == 0
    manager.ensure_loaded([b, c])
    manager.unload_all()
    assert manager.loaded_models() == []
    assert b.loaded_size() == c.loaded_size() == 0
    assert manager.free_memory() == 1000


def test_free_reports_shortfall_when_nothing_left_to_offload():
    manager = make_manager(500)
    a = one_layer("a")
    manager.ensure_loaded([a])
    assert manager.free(500, keep=[a]) == 500 - LINEAR8_BYTES


def test_dropped_model_is_forgotten():
    manager = make_manager(1000)
    a, b = one_layer("a"), one_layer("b")
    manager.ensure_loaded([a, b])
    del a
    gc.collect()
    assert manager.loaded_models() == [b]
    assert manager.free_memory() == 1000 - LINEAR8_BYTES


def test_without_smart_memory_prompt_end_unloads():
    smart, plain = make_manager(1000), make_manager(1000, smart_memory=False)
    a, b = one_layer("a"), one_layer("b")
    smart.ensure_loaded([a])
    plain.ensure_loaded([b])
    smart.on_prompt_end()
    plain.on_prompt_end()
    assert smart.loaded_models() == [a] and plain.loaded_models() == []


def test_side_device_load_is_not_tracked():
    options = MemoryOptions(reserve_bytes=0, min_inference_bytes=0)
    # "meta" stands in for an accelerator on a CPU-only machine; the CPU is the side device.
    manager = MemoryManager(options, "meta", total_memory=1000)
    a = one_layer("a")
    manager.ensure_loaded([a], device="cpu")
    assert a.load_calls == [None] and manager.loaded_models() == []


def test_stats_shape():
    manager = make_manager(1000)
    manager.ensure_loaded([one_layer("a")])
    (entry,) = manager.stats()
    assert set(entry) == {
        "name", "type", "index", "vram_total", "vram_free", "torch_vram_total", "torch_vram_free"
    }
    assert entry["type"] == "cpu" and entry["index"] is None
    assert entry["vram_total"] == 1000
    assert all(isinstance(entry[k], int) for k in entry if k.startswith(("vram", "torch")))


def test_default_reserve_and_minimum_inference():
    options = MemoryOptions(vram_state=VramState.NORMAL_VRAM, reserve_bytes=100, min_inference_bytes=50)
    manager = MemoryManager(options, "cpu", total_memory=10_000)
    assert manager.inference_bytes(0) == 150
    assert manager.inference_bytes(1000) == 1100
    default = MemoryManager(MemoryOptions(), "cpu", total_memory=10_000)
    assert default.reserve_bytes >= 400 * 1024**2
