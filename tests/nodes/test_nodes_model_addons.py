"""GLIGEN, hypernetwork and PhotoMaker nodes on tiny generated files: a GLIGEN box reaches
the UNet as the middle patch of the boxed phrase (sampling equals the same patch set on the
model by hand), a hypernetwork's attention patch follows the A1111 rule k + s·MLP_k(k),
v + s·MLP_v(v) in sampling, PhotoMaker fuses the face into the token before the trigger
word (ComfyUI's rule); wrong and pickled files are refused naming them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from nodes_models_helpers import empty_latent, encode, ksample, run

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.clip_vision import clip_preprocess
from comfy_core.settings import Settings
from comfy_core.tools.make_gligen import write_gligen
from comfy_core.tools.make_hypernetwork import random_hypernetwork_state, write_hypernetwork
from comfy_core.tools.make_photomaker import write_photomaker
from tests.fixtures.checkpoints import make_tiny_checkpoint

import nodes


@pytest.fixture(scope="module")
def addons_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("addons")
    models = base / "models"
    for family in ("sd15", "sdxl"):
        make_tiny_checkpoint(family, models / "checkpoints")
    write_gligen(models / "gligen" / "gligen.safetensors", seed=1)
    write_hypernetwork(models / "hypernetworks" / "hn.safetensors", seed=4)
    write_photomaker(models / "photomaker" / "pm.safetensors", seed=2)
    write_gligen(models / "photomaker" / "not_pm.safetensors")
    write_photomaker(models / "gligen" / "not_gligen.safetensors")
    write_photomaker(models / "hypernetworks" / "not_hn.safetensors")
    for folder in ("gligen", "hypernetworks", "photomaker"):
        (models / folder / "old.pt").write_bytes(b"\x80\x04K\x01.")
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield models


def _sample(model, pos, neg) -> torch.Tensor:
    return ksample(model, pos, neg, empty_latent(), seed=11, steps=2, cfg=1.0)["samples"]


def test_gligen_box_reaches_the_unet_as_its_middle_patch(addons_app):
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sd15_tiny.safetensors")
    gligen = run("GLIGENLoader", gligen_name="gligen.safetensors")[0]
    text = encode(clip, "a kitchen")
    boxed = run("GLIGENTextBoxApply", conditioning_to=text, clip=clip, gligen_textbox_model=gligen,
                text="a red kettle", width=32, height=24, x=8, y=16)[0]
    twice = run("GLIGENTextBoxApply", conditioning_to=boxed, clip=clip, gligen_textbox_model=gligen,
                text="a cup", width=16, height=16, x=40, y=40)[0]
    _, pooled = clip.encode_from_tokens(clip.tokenize("a red kettle"), return_pooled="unprojected")
    kind, patcher, boxes = boxed[0][1]["gligen"]
    assert kind == "position" and patcher is gligen and len(boxes) == 1
    torch.testing.assert_close(boxes[0][0], pooled)
    assert boxes[0][1:] == (3, 4, 2, 1)  # h, w, y, x in latent units (pixels // 8)
    assert [b[1:] for b in twice[0][1]["gligen"][2]] == [(3, 4, 2, 1), (2, 2, 5, 5)]
    assert "gligen" not in text[0][1]
    with_box = _sample(model, boxed, text)
    by_hand = model.clone()  # cfg 1: only the positive prompt runs, so its patch can sit on the model
    by_hand.set_model_patch(gligen.model.set_position((1, 4, 8, 8), boxes, torch.device("cpu")), "middle_patch")
    torch.testing.assert_close(with_box, _sample(by_hand, text, text), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(with_box, _sample(model, text, text), atol=1e-3)


def _mlp_by_hand(x: torch.Tensor, sd: dict, prefix: str) -> torch.Tensor:
    """A1111's Linear, ReLU, LayerNorm, Linear, LayerNorm."""
    h = F.relu(F.linear(x, sd[f"{prefix}.linear.0.weight"], sd[f"{prefix}.linear.0.bias"]))
    h = F.layer_norm(h, h.shape[-1:], sd[f"{prefix}.linear.2.weight"], sd[f"{prefix}.linear.2.bias"])
    h = F.linear(h, sd[f"{prefix}.linear.3.weight"], sd[f"{prefix}.linear.3.bias"])
    return F.layer_norm(h, h.shape[-1:], sd[f"{prefix}.linear.5.weight"], sd[f"{prefix}.linear.5.bias"])


def test_hypernetwork_follows_the_a1111_rule_in_sampling(addons_app):
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sd15_tiny.safetensors")
    patched = run("HypernetworkLoader", model=model, hypernetwork_name="hn.safetensors", strength=0.6)[0]
    assert "patches" not in model.model_options.get("transformer_options", {})  # the input is untouched
    sd = random_hypernetwork_state(seed=4)
    widths = {int(k.split(".")[0]) for k in sd}

    def by_hand(q, k, v, extra_options):
        width = k.shape[-1]
        if width not in widths:
            return q, k, v
        return (q, k + 0.6 * _mlp_by_hand(k, sd, f"{width}.0"), v + 0.6 * _mlp_by_hand(v, sd, f"{width}.1"))

    reference = model.clone()
    reference.set_model_attn1_patch(by_hand)
    reference.set_model_attn2_patch(by_hand)
    pos, neg = encode(clip, "a lighthouse"), encode(clip, "")
    ours = ksample(patched, pos, neg, empty_latent(), seed=2, steps=2)["samples"]
    torch.testing.assert_close(ours, ksample(reference, pos, neg, empty_latent(), seed=2, steps=2)["samples"],
                               rtol=1e-4, atol=1e-5)
    assert not torch.allclose(ours, ksample(model, pos, neg, empty_latent(), seed=2, steps=2)["samples"], atol=1e-3)


def test_photomaker_fuses_the_token_before_the_trigger_word(addons_app):
    _, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sdxl_tiny.safetensors")
    photomaker = run("PhotoMakerLoader", photomaker_model_name="pm.safetensors")[0]
    face = torch.rand(1, 40, 56, 3, generator=torch.Generator().manual_seed(0))
    text = "photo of a man photomaker"
    out = run("PhotoMakerEncode", photomaker=photomaker, image=face, clip=clip, text=text)[0]
    plain = encode(clip, text)  # a plain prompt is one word id for the tokenizer: nothing is removed
    cond, want = out[0][0], plain[0][0]
    index = 4  # trigger is word 5 of the text: token 4 (after the start token: photo, of, a, man) is fused
    others = [i for i in range(cond.shape[1]) if i != index]
    torch.testing.assert_close(cond[:, others], want[:, others], rtol=1e-5, atol=1e-5)
    mask = torch.zeros(1, want.shape[1], dtype=torch.bool)
    mask[0, index] = True
    with torch.no_grad():
        fused = photomaker(clip_preprocess(face, 224), want.float(), mask)
    torch.testing.assert_close(cond[:, index], fused[:, index], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(cond[:, index], want[:, index], atol=1e-3)
    torch.testing.assert_close(out[0][1]["pooled_output"], plain[0][1]["pooled_output"])
    no_trigger = run("PhotoMakerEncode", photomaker=photomaker, image=face, clip=clip, text="photo of a man")[0]
    torch.testing.assert_close(no_trigger[0][0], encode(clip, "photo of a man")[0][0])


@pytest.mark.parametrize("node,field,bad,expected", [
    ("GLIGENLoader", "gligen_name", "not_gligen.safetensors", "GLIGEN"),
    ("PhotoMakerLoader", "photomaker_model_name", "not_pm.safetensors", "PhotoMaker"),
    ("HypernetworkLoader", "hypernetwork_name", "not_hn.safetensors", "unexpected tensor"),
])
def test_wrong_and_pickled_files_are_refused_naming_them(addons_app, node, field, bad, expected):
    cls = nodes.NODE_CLASS_MAPPINGS[node]
    extra = {"strength": 1.0, "model": run("CheckpointLoaderSimple", ckpt_name="sd15_tiny.safetensors")[0]} \
        if node == "HypernetworkLoader" else {}
    with pytest.raises(CheckpointError, match=rf"{bad}: .*{expected}"):
        getattr(cls(), cls.FUNCTION)(**{field: bad}, **extra)
    with pytest.raises(CheckpointError, match=r"old\.pt: pickle checkpoints \(\.pt\) are refused"):
        getattr(cls(), cls.FUNCTION)(**{field: "old.pt"}, **extra)


def test_packs_import_the_extras_modules(addons_app, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "compat"))
    from comfy_extras import nodes_hypernetwork, nodes_photomaker

    assert nodes_photomaker.PhotoMakerEncode is nodes.NODE_CLASS_MAPPINGS["PhotoMakerEncode"]
    assert nodes_hypernetwork.HypernetworkLoader is nodes.NODE_CLASS_MAPPINGS["HypernetworkLoader"]
    patch = nodes_hypernetwork.load_hypernetwork_patch(addons_app / "hypernetworks" / "hn.safetensors", 0.5)
    q = k = v = torch.zeros(1, 2, 48)  # no 48-wide MLPs: unchanged
    assert patch(q, k, v, {}) == (q, k, v)
