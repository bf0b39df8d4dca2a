"""LyCORIS LoHa, LoKr and full-diff adapters: deltas against references written from the
formulas, LoraLoader on a tiny checkpoint (exact targets, strength, bit-exact removal),
mixed files and clear size errors."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import nodes
from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.lora import apply_lora, clip_key_map, unet_key_map
from comfy_core.models.lycoris import DiffDelta, LohaDelta, LokrDelta
from comfy_core.settings import Settings
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lycoris

FILES = {"loha": ("loha", False), "loha_tucker": ("loha", True), "lokr": ("lokr", False),
         "lokr_tucker": ("lokr", True), "diff": ("diff", False), "mixed": ("mixed", True)}


# References, plain torch from the formulas.

def ref_tucker(core: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """W[p, q, k, l] = sum_ij core[i, j, k, l] wa[i, p] wb[j, q]; wa (r1, out), wb (r2, in)."""
    return (wa.T @ (core.permute(2, 3, 0, 1) @ wb)).permute(2, 3, 0, 1)  # (kh, kw, out, in) -> (out, in, kh, kw)


def ref_loha(t: dict, shape: tuple) -> torch.Tensor:
    halves = []
    for i in (1, 2):
        a, b, core = t[f"hada_w{i}_a"], t[f"hada_w{i}_b"], t.get(f"hada_t{i}")
        halves.append((a @ b).reshape(shape) if core is None else ref_tucker(core, a, b))
    scale = float(t["alpha"]) / t["hada_w1_b"].shape[0] if "alpha" in t else 1.0
    return halves[0] * halves[1] * scale


def ref_lokr(t: dict, shape: tuple) -> torch.Tensor:
    """dW[i*b + p, j*d + q, k, l] = w1[i, j] * w2[p, q, k, l], scaled by alpha / rank of a pair."""
    rank = None  # the inner dim of w2's pair, else w1's
    w1 = t.get("lokr_w1")
    if w1 is None:
        w1, rank = t["lokr_w1_a"] @ t["lokr_w1_b"], t["lokr_w1_b"].shape[0]
    (a, c), kernel = w1.shape, shape[2:]
    b, d = shape[0] // a, shape[1] // c
    w2 = t.get("lokr_w2")
    if w2 is None:
        wa, wb = t["lokr_w2_a"], t["lokr_w2_b"]
        rank = wb.shape[0]
        w2 = ref_tucker(t["lokr_t2"], wa, wb) if "lokr_t2" in t else wa @ wb
    w2 = w2.reshape(b, d, -1)  # (b, d, kh*kw)
    full = w1[:, None, :, None, None] * w2[None, :, None, :, :]  # (a, b, c, d, kh*kw)
    scale = float(t["alpha"]) / rank if rank and "alpha" in t else 1.0
    return full.reshape(shape) * scale


def _rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape) * 0.5


@pytest.mark.parametrize("shape", [(12, 10), (12, 10, 1, 1), (12, 10, 3, 3)])
def test_loha_delta_matches_formula(shape: tuple) -> None:
    torch.manual_seed(0)
    k = torch.Size(shape[2:]).numel()
    t = {"hada_w1_a": _rand(12, 3), "hada_w1_b": _rand(3, 10 * k), "hada_w2_a": _rand(12, 3),
         "hada_w2_b": _rand(3, 10 * k), "alpha": torch.tensor(2.0)}
    d = LohaDelta(t["hada_w1_a"], t["hada_w1_b"], t["hada_w2_a"], t["hada_w2_b"], alpha=2.0)
    assert d.numel() == torch.Size(shape).numel()
    torch.testing.assert_close(d.delta(torch.zeros(shape)), ref_loha(t, shape))


def test_loha_tucker_delta_matches_formula() -> None:
    torch.manual_seed(1)
    t = {"hada_w1_a": _rand(3, 12), "hada_w1_b": _rand(3, 10), "hada_t1": _rand(3, 3, 3, 3),
         "hada_w2_a": _rand(3, 12), "hada_w2_b": _rand(3, 10), "hada_t2": _rand(3, 3, 3, 3)}
    d = LohaDelta(t["hada_w1_a"], t["hada_w1_b"], t["hada_w2_a"], t["hada_w2_b"], t1=t["hada_t1"], t2=t["hada_t2"])
    torch.testing.assert_close(d.delta(torch.zeros(12, 10, 3, 3)), ref_loha(t, (12, 10, 3, 3)))


def test_tucker_factor_is_three_composed_convolutions() -> None:
    """A Tucker factor acts as conv1x1(wb) -> conv(core) -> conv1x1(wa^T) (LoKr with w1 = [[1]])."""
    torch.manual_seed(2)
    core, wa, wb = _rand(3, 2, 3, 3), _rand(3, 6), _rand(2, 5)
    w = LokrDelta(torch.ones(1, 1), (wa, wb), t2=core).delta(torch.zeros(6, 5, 3, 3))
    x = torch.randn(1, 5, 9, 9)
    composed = F.conv2d(F.conv2d(F.conv2d(x, wb[..., None, None]), core, padding=1), wa.T[..., None, None])
    torch.testing.assert_close(F.conv2d(x, w, padding=1), composed, rtol=1e-4, atol=1e-4)


LOKR_CASES = {
    "linear_full_w1_lowrank_w2": ((12, 10), {"lokr_w1": (3, 2), "lokr_w2_a": (4, 2), "lokr_w2_b": (2, 5)}),
    "linear_both_lowrank": ((12, 10), {"lokr_w1_a": (3, 3), "lokr_w1_b": (3, 2), "lokr_w2_a": (4, 2),
                                       "lokr_w2_b": (2, 5)}),
    "linear_both_full": ((12, 10), {"lokr_w1": (3, 2), "lokr_w2": (4, 5)}),
    "conv_full_w2": ((12, 10, 3, 3), {"lokr_w1": (3, 2), "lokr_w2": (4, 5, 3, 3)}),
    "conv_lowrank_w2": ((12, 10, 3, 3), {"lokr_w1": (2, 5), "lokr_w2_a": (6, 3), "lokr_w2_b": (3, 18)}),
    "conv_tucker": ((12, 10, 3, 3), {"lokr_w1": (3, 2), "lokr_w2_a": (2, 4), "lokr_w2_b": (2, 5),
                                     "lokr_t2": (2, 2, 3, 3)}),
}


@pytest.mark.parametrize("case", sorted(LOKR_CASES))
def test_lokr_delta_matches_formula(case: str) -> None:
    torch.manual_seed(3)
    shape, sizes = LOKR_CASES[case]
    t = {name: _rand(*size) for name, size in sizes.items()} | {"alpha": torch.tensor(3.0)}
    w1, w2 = (t.get(f"lokr_w{i}", (t.get(f"lokr_w{i}_a"), t.get(f"lokr_w{i}_b"))) for i in (1, 2))
    d = LokrDelta(w1, w2, alpha=3.0, t2=t.get("lokr_t2"))
    assert d.numel() == torch.Size(shape).numel()
    torch.testing.assert_close(d.delta(torch.zeros(shape)), ref_lokr(t, shape))
    if "lokr_w1" in t and "lokr_w2" in t:  # full factors: alpha is ignored
        unscaled = LokrDelta(t["lokr_w1"], t["lokr_w2"]).delta(torch.zeros(shape))
        torch.testing.assert_close(d.delta(torch.zeros(shape)), unscaled)


def test_diff_delta_is_the_difference() -> None:
    diff = torch.randn(6, 4, 3, 3, dtype=torch.float16)
    torch.testing.assert_close(DiffDelta(diff).delta(torch.zeros(6, 4, 3, 3)), diff.float())


# LoraLoader on a tiny sd15 checkpoint.

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("lyco")
    ckpt = make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    for name, (kind, tucker) in FILES.items():
        make_tiny_lycoris(ckpt, base / "models" / "loras" / f"{name}.safetensors", kind, seed=5, tucker=tucker)
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield ctx


def _tiny(app):
    return load_checkpoint(app.folders.get_full_path_or_raise("checkpoints", "sd15_tiny.safetensors"))


def _snapshot(value) -> dict[str, torch.Tensor]:
    """Parameters of a MODEL (or of a CLIP's patcher), by state-dict key."""
    patcher = getattr(value, "patcher", value)
    return {k: v.detach().clone() for k, v in patcher.model.named_parameters()}


def _expected(state: dict, key_maps: dict[str, dict[str, str]], params: dict) -> dict[str, torch.Tensor]:
    """Tagged parameter key -> reference delta at strength 1, for every adapter in `state`."""
    bases = {re.sub(r"\.(hada_|lokr_|lora_|diff|alpha).*$", "", k) for k in state}
    out: dict[str, torch.Tensor] = {}
    for base in bases:
        t = {k[len(base) + 1:]: v for k, v in state.items() if k.startswith(base + ".")}
        tag, target = next((tag, m[base]) for tag, m in key_maps.items() if base in m)
        shape = tuple(params[tag][target].shape)
        if "hada_w1_a" in t:
            out[tag + target] = ref_loha(t, shape)
        elif "lokr_w1" in t or "lokr_w1_a" in t:
            out[tag + target] = ref_lokr(t, shape)
        elif "diff" in t:
            out[tag + target] = t["diff"]
            if "diff_b" in t:
                out[tag + target.removesuffix("weight") + "bias"] = t["diff_b"]
        else:
            up, down = t["lora_up.weight"].flatten(1), t["lora_down.weight"].flatten(1)
            out[tag + target] = (up @ down).reshape(shape) * float(t["alpha"]) / down.shape[0]
    return out


@pytest.mark.parametrize("name", sorted(FILES))
def test_lora_loader_patches_exactly_the_targets(app, name: str) -> None:
    ckpt = _tiny(app)
    state = load_state_dict(app.folders.get_full_path_or_raise("loras", f"{name}.safetensors"))
    before = {"model:": _snapshot(ckpt.model), "clip:": _snapshot(ckpt.clip)}
    expected = _expected(state, {"model:": unet_key_map(ckpt.model), "clip:": clip_key_map(ckpt.clip)}, before)
    loader = nodes.NODE_CLASS_MAPPINGS["LoraLoader"]()
    model, clip = loader.load_lora(ckpt.model, ckpt.clip, f"{name}.safetensors", 0.7, 0.4)
    model.load("cpu")
    clip.load_model()
    changed = 0
    for tag, handle, strength in (("model:", model, 0.7), ("clip:", clip, 0.4)):
        for key, value in _snapshot(handle).items():
            ref = expected.get(tag + key)
            if ref is None:
                assert torch.equal(value, before[tag][key]), key
            else:
                torch.testing.assert_close(value, before[tag][key] + strength * ref.reshape(value.shape))
                changed += 1
    assert changed == len(expected) > 0
    ckpt.model.load("cpu")  # the original values share the modules: back to bit-exact originals
    ckpt.clip.load_model()
    assert all(torch.equal(v, before["model:"][k]) for k, v in _snapshot(ckpt.model).items())
    assert all(torch.equal(v, before["clip:"][k]) for k, v in _snapshot(ckpt.clip).items())


def test_mixed_file_loads_every_kind_with_no_unmatched_keys(app, caplog) -> None:
    caplog.set_level(logging.WARNING)
    ckpt = _tiny(app)
    state = load_state_dict(app.folders.get_full_path_or_raise("loras", "mixed.safetensors"))
    before = _snapshot(ckpt.model)
    marker = re.compile(r"\.(lora_up\.weight|hada_w1_a|lokr_w1|lokr_t2|diff_b|diff)$")
    kinds = {m.group(1) for k in state if (m := marker.search(k))}
    assert kinds == {"lora_up.weight", "hada_w1_a", "lokr_w1", "lokr_t2", "diff", "diff_b"}
    model, clip, unmatched = apply_lora(ckpt.model, ckpt.clip, state, 1.0, 1.0)
    assert unmatched == [] and "lora key not loaded" not in caplog.text
    for patches in (model.patches, clip.patcher.patches):  # one patch tuple per patched key
        assert patches and all(len(v) == 1 for v in patches.values())
    model.load("cpu")
    assert not all(torch.equal(v, before[k]) for k, v in _snapshot(model).items())
    model.unpatch_model()
    assert all(torch.equal(v, before[k]) for k, v in _snapshot(model).items())


def test_bias_delta_for_a_bias_free_layer_is_reported(app) -> None:
    ckpt = _tiny(app)
    base = "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q"
    state = {base + ".diff": torch.zeros(32, 32), base + ".diff_b": torch.zeros(32)}
    model, _, unmatched = apply_lora(ckpt.model, None, state)
    assert unmatched == [base + ".diff_b"] and len(model.patches) == 1


def _loha_state(base: str, out: int, inp: int, rank: int = 2) -> dict[str, torch.Tensor]:
    return {base + ".hada_w1_a": torch.zeros(out, rank), base + ".hada_w1_b": torch.zeros(rank, inp),
            base + ".hada_w2_a": torch.zeros(out, rank), base + ".hada_w2_b": torch.zeros(rank, inp)}


BASE = "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k"  # (32, 32) in the tiny sd15


@pytest.mark.parametrize("bad, message", [
    ({BASE + ".hada_w1_a": torch.zeros(31, 2)}, "LoHa adapter " + BASE),  # halves disagree
    ({BASE + ".hada_w2_b": torch.zeros(3, 32)}, "LoHa adapter " + BASE),  # inner dims disagree
    ({BASE + ".hada_w1_a": torch.zeros(16, 2), BASE + ".hada_w2_a": torch.zeros(16, 2)}, BASE + ".hada_w1_a"),
])
def test_wrong_size_loha_names_the_key(app, bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_lora(_tiny(app).model, None, _loha_state(BASE, 32, 32) | bad)


@pytest.mark.parametrize("state, message", [
    ({BASE + ".lokr_w1": torch.zeros(4, 4), BASE + ".lokr_w2": torch.zeros(8, 4)}, BASE + ".lokr_w1"),
    ({BASE + ".lokr_w1": torch.zeros(4, 4), BASE + ".lokr_w2_a": torch.zeros(8, 2),
      BASE + ".lokr_w2_b": torch.zeros(3, 8)}, "LoKr adapter " + BASE),
    ({BASE + ".lokr_w1": torch.zeros(4, 4), BASE + ".lokr_w2_a": torch.zeros(8, 2)}, BASE + ".lokr_w2_b is missing"),
])
def test_wrong_size_lokr_names_the_key(app, state: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_lora(_tiny(app).model, None, state)
