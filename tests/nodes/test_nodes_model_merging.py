"""Merge nodes checked against the merge formulas on the checkpoints' own tensors; save
nodes checked for ComfyUI's file names, key layouts and metadata, and read back by our
loaders to the same tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import nodes
from nodes_models_helpers import empty_latent, encode, ksample, run

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.loading.saving import clip_encoder_states, unet_state
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict
from comfy_core.models.lora import apply_lora
from comfy_core.settings import Settings
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora

ROOT = Path(__file__).resolve().parents[2]
UNET = "model.diffusion_model."
KEYS = {"time": "time_embed.0.weight", "in": "input_blocks.1.0.in_layers.2.weight",
        "in1": "input_blocks.1.1.proj_in.weight", "mid": "middle_block.1.proj_in.weight",
        "outb": "output_blocks.2.0.in_layers.2.weight", "out": "out.2.weight"}


@pytest.fixture(scope="module")
def merge_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("merge")
    ckpts = base / "models" / "checkpoints"
    make_tiny_checkpoint("sd15", ckpts / "a.safetensors", seed=0)
    make_tiny_checkpoint("sd15", ckpts / "b.safetensors", seed=1)
    for family in ("sdxl", "sd21v"):
        make_tiny_checkpoint(family, ckpts)
    make_tiny_lora(ckpts / "b.safetensors", base / "models" / "loras" / "b_lora.safetensors", seed=2)
    folders = FolderPaths.build(base)
    folders.output_dir.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))):
        yield folders, {"a": load_state_dict(ckpts / "a.safetensors"), "b": load_state_dict(ckpts / "b.safetensors")}


def _ckpt(name: str):
    return run("CheckpointLoaderSimple", ckpt_name=name)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_simple_blocks_subtract_add_follow_their_formulas(merge_app):
    _, files = merge_app
    (m1, c1, _), (m2, c2, _) = _ckpt("a.safetensors"), _ckpt("b.safetensors")
    w1 = {n: files["a"][UNET + k] for n, k in KEYS.items()}
    w2 = {n: files["b"][UNET + k] for n, k in KEYS.items()}

    def weights(model):  # copies: the state dict's tensors are the shared module's own
        state = unet_state(model)
        return {n: state[UNET + k].clone() for n, k in KEYS.items()}

    simple = weights(run("ModelMergeSimple", model1=m1, model2=m2, ratio=0.3)[0])
    for n in KEYS:
        _close(simple[n], 0.3 * w1[n] + 0.7 * w2[n])
    blocks = weights(run("ModelMergeBlocks", model1=m1, model2=m2, out=0.9, middle=0.5, input=0.2)[0])
    ratios = {"time": 0.2, "in": 0.2, "in1": 0.2, "mid": 0.5, "outb": 0.9, "out": 0.9}  # time: the schema's first
    for n, r in ratios.items():
        _close(blocks[n], r * w1[n] + (1 - r) * w2[n])
    sd1 = run("ModelMergeSD1", model1=m1, model2=m2, **{**{k: 1.0 for k in _sd1_inputs()}, "input_blocks.1.": 0.4,
                                                        "out.": 0.0})[0]
    sd1w = weights(sd1)
    _close(sd1w["in"], 0.4 * w1["in"] + 0.6 * w2["in"])
    _close(sd1w["out"], w2["out"])
    _close(sd1w["mid"], w1["mid"])
    sub = weights(run("ModelMergeSubtract", model1=m1, model2=m2, multiplier=2.0)[0])
    add = weights(run("ModelMergeAdd", model1=m1, model2=m2)[0])
    for n in KEYS:
        _close(sub[n], 2.0 * (w1[n] - w2[n]))
        _close(add[n], w1[n] + w2[n])
    assert all(torch.equal(v, w1[n]) for n, v in weights(m1).items())  # the inputs are untouched


def _sd1_inputs() -> list[str]:
    return [k for k in nodes.NODE_CLASS_MAPPINGS["ModelMergeSD1"].INPUT_TYPES()["required"] if k.endswith(".")]


def test_merges_see_the_second_models_patches_and_clip_merges(merge_app):
    _, files = merge_app
    (m1, c1, _), (m2, c2, _) = _ckpt("a.safetensors"), _ckpt("b.safetensors")
    m2l, c2l = run("LoraLoader", model=m2, clip=c2, lora_name="b_lora.safetensors", strength_model=1.0,
                   strength_clip=1.0)
    key = UNET + KEYS["in1"]
    lora_w2 = unet_state(m2l)[key].clone()
    assert not torch.equal(lora_w2, files["b"][key])
    merged = run("ModelMergeSimple", model1=m1, model2=m2l, ratio=0.5)[0]
    _close(unet_state(merged)[key], 0.5 * files["a"][key] + 0.5 * lora_w2)
    q = "text_model.encoder.layers.0.self_attn.q_proj.weight"
    e1, e2 = clip_encoder_states(c1)["clip_l"][q].clone(), clip_encoder_states(c2)["clip_l"][q].clone()
    _close(clip_encoder_states(run("CLIPMergeSimple", clip1=c1, clip2=c2, ratio=0.25)[0])["clip_l"][q],
           0.25 * e1 + 0.75 * e2)
    _close(clip_encoder_states(run("CLIPMergeSubtract", clip1=c1, clip2=c2, multiplier=0.5)[0])["clip_l"][q],
           0.5 * (e1 - e2))
    _close(clip_encoder_states(run("CLIPMergeAdd", clip1=c1, clip2=c2)[0])["clip_l"][q], e1 + e2)


def test_merged_model_samples_as_a_checkpoint_of_hand_merged_weights(merge_app):
    folders, files = merge_app
    hand = {k: (0.3 * v + 0.7 * files["b"][k]) if k.startswith(UNET) else v for k, v in files["a"].items()}
    save_state_dict(hand, folders.get_folder_paths("checkpoints")[0] / "hand_merged.safetensors")
    (m1, c1, _), (m2, _, _) = _ckpt("a.safetensors"), _ckpt("b.safetensors")
    merged = run("ModelMergeSimple", model1=m1, model2=m2, ratio=0.3)[0]
    by_hand = _ckpt("hand_merged.safetensors")[0]
    pos, neg = encode(c1, "a red cube"), encode(c1, "")
    latents = [ksample(m, pos, neg, empty_latent(), seed=5, steps=3)["samples"] for m in (merged, by_hand)]
    torch.testing.assert_close(latents[0], latents[1], rtol=1e-4, atol=1e-4)
    unmerged = ksample(m1, pos, neg, empty_latent(), seed=5, steps=3)["samples"]
    assert not torch.allclose(unmerged, latents[0], atol=1e-2)


def _saved(folders, pattern: str) -> tuple[dict, dict]:
    (path,) = sorted(folders.output_dir.glob(pattern))
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


@pytest.mark.parametrize("family", ["sd15", "sd21v", "sdxl"])
def test_checkpoint_save_writes_comfyuis_layout_and_reads_back(merge_app, family):
    folders, _ = merge_app
    name = {"sd15": "a.safetensors"}.get(family, f"{family}_tiny.safetensors")
    model, clip, vae = _ckpt(name)
    prompt, extra = {"1": {"class_type": "X", "inputs": {}}}, {"workflow": {"nodes": [1]}}
    run("CheckpointSave", model=model, clip=clip, vae=vae, filename_prefix=f"checkpoints/{family}",
        prompt=prompt, extra_pnginfo=extra)
    state, meta = _saved(folders, f"checkpoints/{family}_00001_.safetensors")
    original = load_state_dict(folders.get_full_path_or_raise("checkpoints", name))
    expected = set(original)
    if family == "sdxl":
        expected.add(km.SDXL_CLIP_L_PREFIX + "text_model.embeddings.position_ids")
        assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base"
        assert meta["modelspec.implementation"] == "sgm" and meta["modelspec.title"] == f"{family} 1"
    if family == "sd21v":
        expected.add("v_pred")
        assert meta["modelspec.predict_key"] == "v" and "modelspec.architecture" not in meta
        assert "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight" in state
    assert set(state) == expected
    assert all(torch.equal(state[k], original[k]) for k in original)
    assert json.loads(meta["prompt"]) == prompt and json.loads(meta["workflow"]) == extra["workflow"]
    back = load_checkpoint(folders.output_dir / "checkpoints" / f"{family}_00001_.safetensors")
    assert back.family.name == model.model.family.name
    assert torch.equal(unet_state(back.model)[UNET + "out.2.weight"], original[UNET + "out.2.weight"])


def test_model_clip_vae_save_and_their_loaders(merge_app):
    folders, files = merge_app
    (m1, c1, v1), (m2, _, _) = _ckpt("a.safetensors"), _ckpt("b.safetensors")
    merged = run("ModelMergeSimple", model1=m1, model2=m2, ratio=0.5)[0]
    run("ModelSave", model=merged, filename_prefix="diffusion_models/merged")
    run("CLIPSave", clip=c1, filename_prefix="clip/mine", prompt={"p": 1})
    run("VAESave", vae=v1, filename_prefix="vae/mine")
    edm = run("ModelSamplingContinuousEDM", model=m1, sampling="v_prediction", sigma_max=80.0, sigma_min=0.03)[0]
    run("ModelSave", model=edm, filename_prefix="diffusion_models/edm")
    unet, meta = _saved(folders, "diffusion_models/merged_00001_.safetensors")
    assert all(k.startswith(UNET) for k in unet) and meta["modelspec.predict_key"] == "epsilon"
    edm_sd, edm_meta = _saved(folders, "diffusion_models/edm_00001_.safetensors")  # the σ range travels along
    assert edm_meta["modelspec.predict_key"] == "epsilon" and "v_pred" not in edm_sd
    _close(edm_sd["edm_vpred.sigma_max"], torch.tensor(80.0))
    _close(edm_sd["edm_vpred.sigma_min"], torch.tensor(0.03))
    key = UNET + KEYS["mid"]
    _close(unet[key], 0.5 * files["a"][key] + 0.5 * files["b"][key])
    clip_sd, clip_meta = _saved(folders, "clip/mine_clip_l_00001_.safetensors")
    assert clip_meta["format"] == "pt" and json.loads(clip_meta["prompt"]) == {"p": 1}
    assert set(clip_sd) == set(km.strip_prefix(files["a"], km.CLIP_L_PREFIX))
    vae_sd, _ = _saved(folders, "vae/mine_00001_.safetensors")
    assert set(vae_sd) == set(km.strip_prefix(files["a"], km.VAE_PREFIX))
    for src, dst in (("diffusion_models/merged_00001_.safetensors", "diffusion_models"),
                     ("clip/mine_clip_l_00001_.safetensors", "text_encoders"),
                     ("vae/mine_00001_.safetensors", "vae")):
        target = folders.get_folder_paths(dst)[0]
        target.mkdir(parents=True, exist_ok=True)
        (target / "saved.safetensors").write_bytes((folders.output_dir / src).read_bytes())
    unet2 = run("UNETLoader", unet_name="saved.safetensors", weight_dtype="default")[0]
    clip2 = run("CLIPLoader", clip_name="saved.safetensors", type="stable_diffusion")[0]
    vae2 = run("VAELoader", vae_name="saved.safetensors")[0]
    _close(unet_state(unet2)[key], unet[key])
    q = "text_model.encoder.layers.0.self_attn.q_proj.weight"
    assert torch.equal(clip_encoder_states(clip2)["clip_l"][q], files["a"][km.CLIP_L_PREFIX + q])
    assert torch.equal(vae2.get_sd()["decoder.conv_out.weight"], files["a"]["first_stage_model.decoder.conv_out.weight"])


def test_lora_save_round_trip(merge_app):
    folders, files = merge_app
    (m1, c1, _), (m2, c2, _) = _ckpt("a.safetensors"), _ckpt("b.safetensors")
    model_diff = run("ModelMergeSubtract", model1=m2, model2=m1, multiplier=1.0)[0]
    clip_diff = run("CLIPMergeSubtract", clip1=c2, clip2=c1, multiplier=1.0)[0]
    save = nodes.NODE_CLASS_MAPPINGS["LoraSave"]
    save.execute("loras/extracted", 4, "standard", True, model_diff=model_diff, text_encoder_diff=clip_diff)
    save.execute("loras/full", 4, "full_diff", False, model_diff=model_diff)
    lora, meta = _saved(folders, "loras/extracted_00001_.safetensors")
    assert meta == {}
    key = KEYS["in1"][: -len(".weight")]
    up, down = lora[f"diffusion_model.{key}.lora_up.weight"], lora[f"diffusion_model.{key}.lora_down.weight"]
    assert up.dtype == torch.float16 and down.shape[0] == 4
    assert "text_encoders.clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.lora_up.weight" in lora
    assert f"diffusion_model.{key}.diff_b" in lora  # bias_diff
    model, clip, unmatched = apply_lora(m1, c1, lora, 1.0, 1.0)
    assert unmatched == []
    w = unet_state(model)[UNET + KEYS["in1"]]
    shape = files["a"][UNET + KEYS["in1"]].shape
    _close(w, files["a"][UNET + KEYS["in1"]] + (up.float().flatten(1) @ down.float().flatten(1)).reshape(shape))
    full, _ = _saved(folders, "loras/full_00001_.safetensors")
    model, _, unmatched = apply_lora(m1, None, full, 1.0, 1.0)
    assert unmatched == []
    for name in KEYS.values():  # the difference itself, rounded to fp16
        torch.testing.assert_close(unet_state(model)[UNET + name], files["b"][UNET + name], rtol=0, atol=2e-3)


def test_packs_save_checkpoints_through_the_extras_module(merge_app, monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "compat"))
    from comfy_extras import nodes_model_merging as extras

    assert extras.ModelMergeBlocks is nodes.NODE_CLASS_MAPPINGS["ModelMergeBlocks"]
    model, clip, vae = _ckpt("a.safetensors")
    extras.save_checkpoint(model, clip=clip, vae=vae, filename_prefix="pack/out", output_dir=str(tmp_path),
                           prompt={"1": {}})
    path = tmp_path / "pack" / "out_00001_.safetensors"
    assert load_checkpoint(path).family.name == "sd15"
    with pytest.raises(ValueError, match="only unCLIP checkpoints"):
        extras.save_checkpoint(model, clip_vision=object(), filename_prefix="pack/bad", output_dir=str(tmp_path))
