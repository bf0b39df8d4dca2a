"""The MODEL value's ModelPatcher interface (COMPAT-PLUGINS 3.9): clone isolation, ComfyUI's
weight-patch formats against the arithmetic they stand for, object patches, the
`set_model_*` setters and the extension registries, on small real modules."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from comfy_core.models.lora import LoraDelta
from comfy_core.models.patcher import ModelPatcher
from comfy_core.patching.extension import CallbacksMP, PatcherInjection, WrappersMP
from comfy_core.patching.model_options import set_model_options_patch_replace

KEY = "lin.weight"


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 3)
        self.marker = "original"


def _patcher() -> ModelPatcher:
    return ModelPatcher(Tiny(), "cpu", "cpu")


def _weight(p: ModelPatcher) -> torch.Tensor:
    p.load("cpu")
    return p.model.lin.weight.detach().clone()


def test_diff_set_and_scale_formats_give_their_arithmetic():
    base = _patcher()
    w = _weight(base)
    t = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    cases = [
        (({KEY: ("diff", (t,))},), {"strength_patch": 0.5}, w + 0.5 * t),
        (({KEY: (t,)},), {"strength_patch": 2.0}, w + 2.0 * t),
        (({KEY: ("set", (t,))},), {}, t),
        (({KEY: (None,)},), {"strength_patch": 0.0, "strength_model": 0.25}, w * 0.25),
        (({KEY: (t,)},), {"strength_patch": 1.0, "strength_model": 3.0}, w * 3.0 + t),
    ]
    for args, kwargs, want in cases:
        p = base.clone()
        assert p.add_patches(*args, **kwargs) == [KEY]
        torch.testing.assert_close(_weight(p), want)
    torch.testing.assert_close(_weight(base), w, rtol=0, atol=0)  # the original: bit-exact again


def test_offset_and_function_forms_patch_a_slice():
    base = _patcher()
    w = _weight(base)
    t = torch.ones(2, 4)
    p = base.clone()
    accepted = p.add_patches({(KEY, (0, 1, 2)): (t,), (KEY, (0, 0, 1), lambda d: d * 10): (torch.ones(1, 4),)}, 0.5)
    assert len(accepted) == 2
    want = w.clone()
    want[1:3] += 0.5 * t
    want[0:1] += 10 * 0.5
    torch.testing.assert_close(_weight(p), want)


def test_lora_adapters_and_unknown_keys():
    base = _patcher()
    w = _weight(base)
    up, down = torch.randn(3, 2), torch.randn(2, 4)
    p = base.clone()
    assert p.add_patches({KEY: LoraDelta(up, down, alpha=1.0), "nope.weight": (w,)}, 0.8) == [KEY]
    torch.testing.assert_close(_weight(p), w + 0.8 * 0.5 * (up @ down))


def test_merging_through_get_key_patches():
    """ModelMergeSimple's recipe: W = W1·ratio + (1 − ratio)·W2, W2 with its own patches."""
    one, two = _patcher(), ModelPatcher(Tiny(), "cpu", "cpu")
    with torch.no_grad():
        two.model.lin.weight.mul_(-2.0)
    w1, w2 = _weight(one), _weight(two)
    lora_two = two.clone()
    t = torch.randn(3, 4)
    lora_two.add_patches({KEY: (t,)}, 1.0)
    keys = lora_two.get_key_patches("lin.")
    assert set(keys) == {"lin.weight", "lin.bias"} and keys[KEY][0][0] is two.weights.original(KEY)
    merged = one.clone()
    merged.add_patches({KEY: keys[KEY]}, 1.0 - 0.3, 0.3)
    torch.testing.assert_close(_weight(merged), w1 * 0.3 + 0.7 * (w2 + t))


def test_clone_isolation_and_deep_copied_model_options():
    base = _patcher()
    base.model_options["transformer_options"]["patches"] = {"attn2_patch": ["kept"]}
    twin = base.clone()
    assert twin.is_clone(base) and twin.model is base.model and twin.parent is base
    twin.set_model_attn2_patch("new")
    twin.model_options["transformer_options"]["patches"]["attn2_patch"].append("by hand")
    twin.add_patches({KEY: (torch.ones(3, 4),)})
    assert base.model_options["transformer_options"]["patches"] == {"attn2_patch": ["kept"]}
    assert twin.model_options["transformer_options"]["patches"]["attn2_patch"] == ["kept", "new", "by hand"]
    assert base.patches == {} and len(twin.patches[KEY]) == 1
    assert twin.patches_uuid != base.patches_uuid


def test_clone_builds_through_the_subclass_and_fires_on_clone():
    class Custom(ModelPatcher):
        pass

    base = Custom(Tiny(), "cpu", "cpu")
    seen = []
    base.add_callback(CallbacksMP.ON_CLONE, lambda old, new: seen.append((old, new)))

    class Attachment:
        def on_model_patcher_clone(self):
            return "fresh"

    base.set_attachments("a", Attachment())
    twin = base.clone()
    assert type(twin) is Custom and seen == [(base, twin)]
    assert twin.get_attachment("a") == "fresh"
    twin.add_callback(CallbacksMP.ON_CLONE, print)
    assert len(base.get_all_callbacks(CallbacksMP.ON_CLONE)) == 1  # lists copied


def test_object_patches_follow_the_patcher_in_place():
    base = _patcher()
    twin = base.clone()
    twin.add_object_patch("marker", "patched")
    assert twin.get_model_object("marker") == "patched" and base.get_model_object("marker") == "original"
    twin.load("cpu")
    assert base.model.marker == "patched" and base.get_model_object("marker") == "original"
    assert base.loaded_size() == 0 and twin.loaded_size() == twin.model_size()
    base.load("cpu")
    assert base.model.marker == "original" and twin.loaded_size() == 0
    module = nn.Linear(2, 2)
    twin.add_object_patch("lin", module)  # a module replacing a module, then restored
    twin.load("cpu")
    assert base.model.lin is module
    base.load("cpu")
    assert isinstance(base.model.lin, nn.Linear) and base.model.lin is not module


def test_setters_write_comfyui_keys():
    p = _patcher()
    fn = lambda args: args  # noqa: E731
    p.set_model_sampler_cfg_function(lambda cond, uncond, scale: cond * scale, disable_cfg1_optimization=True)
    assert p.model_options["sampler_cfg_function"]({"cond": 2.0, "uncond": 0.0, "cond_scale": 3.0}) == 6.0
    assert p.model_options["disable_cfg1_optimization"] is True
    p.set_model_sampler_post_cfg_function(fn)
    p.set_model_sampler_pre_cfg_function(fn)
    p.set_model_sampler_calc_cond_batch_function(fn)
    p.set_model_unet_function_wrapper(fn)
    p.set_model_denoise_mask_function(fn)
    for key in ("sampler_post_cfg_function", "sampler_pre_cfg_function"):
        assert p.model_options[key] == [fn]
    for key in ("sampler_calc_cond_batch_function", "model_function_wrapper", "denoise_mask_function"):
        assert p.model_options[key] is fn
    names = ["attn1_patch", "attn2_patch", "attn1_output_patch", "attn2_output_patch", "input_block_patch",
             "input_block_patch_after_skip", "output_block_patch", "emb_patch", "forward_timestep_embed_patch"]
    for name in names:
        getattr(p, f"set_model_{name}")(name)
    p.set_model_patch("m", "middle_patch")
    patches = p.model_options["transformer_options"]["patches"]
    assert {n: patches[n] for n in names} == {n: [n] for n in names} and patches["middle_patch"] == ["m"]
    p.set_model_attn2_replace("r", "input", 4, 1)
    p.set_model_attn1_replace("s", "middle", 0)
    assert p.model_options["transformer_options"]["patches_replace"] == {"attn2": {("input", 4, 1): "r"},
                                                                         "attn1": {("middle", 0): "s"}}


def test_patch_replace_helper_copies_the_nested_dicts():
    shared = {"attn2": {("input", 1): "old"}}
    options = {"transformer_options": {"patches_replace": shared}}
    before = copy.deepcopy(options)
    out = set_model_options_patch_replace(dict(options), "new", "attn2", "input", 2)
    assert out["transformer_options"]["patches_replace"]["attn2"] == {("input", 1): "old", ("input", 2): "new"}
    assert options == before and shared == {"attn2": {("input", 1): "old"}}


def test_wrapper_registry_and_load_callbacks():
    p = _patcher()
    p.add_wrapper_with_key(WrappersMP.APPLY_MODEL, "k", len)
    p.add_wrapper(WrappersMP.APPLY_MODEL, abs)
    assert p.get_wrappers(WrappersMP.APPLY_MODEL, "k") == [len]
    assert p.get_all_wrappers(WrappersMP.APPLY_MODEL) == [len, abs]
    twin = p.clone()
    p.remove_wrappers_with_key(WrappersMP.APPLY_MODEL, "k")
    assert twin.get_all_wrappers(WrappersMP.APPLY_MODEL) == [len, abs]
    loads = []
    twin.add_callback(CallbacksMP.ON_LOAD, lambda *args: loads.append(args))
    twin.load("cpu", lowvram_model_memory=0)
    assert loads == [(twin, torch.device("cpu"), 0, False, True)]


def test_injections_follow_the_patcher_in_place():
    events = []
    twin = _patcher().clone()
    twin.set_injections("k", [PatcherInjection(lambda p: events.append(("in", p)), lambda p: events.append(("out", p)))])
    twin.load("cpu")
    assert events == [("in", twin)] and twin.is_injected
    twin.parent.load("cpu")
    assert events == [("in", twin), ("out", twin)]


def test_memory_protocol_sizes_and_partial_budget():
    p = _patcher()
    assert p.loaded_size() == 0 and p.model_size() == sum(t.numel() * 4 for t in p.model.parameters())
    p.load("cpu", lowvram_model_memory=16)
    assert p.loaded_size() <= 16
    assert p.partially_load("cpu", p.model_size()) > 0 and p.loaded_size() == p.model_size()
    with pytest.raises(AttributeError):
        p.get_model_object("missing")
