"""ControlNet / T2I-Adapter loading and apply nodes on tiny generated files of every public
layout (make_controlnet): what each loader returns, layouts of the same weights loading
equal, diff ControlNets rebuilt from their model, wrong files refused by name, the apply
nodes' chaining rules, and CONTROL_NET values' residuals (strength, schedule range, chains,
batched and resized hints, union types, Control-LoRA assembly, T2I placement) against the
network called directly."""

from __future__ import annotations

import re

import pytest
import torch
from nodes_models_helpers import build_models, load, run

import nodes
from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.images.resize import upscale
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict
from comfy_core.models.control_nets import ControlLora, ControlNet, T2IAdapter
from comfy_core.models.t2i_adapter import t2i_control_lists
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.settings import Settings
from comfy_core.tools.make_controlnet import build, write_controlnet
from comfy_core.tools.make_upscale import write_upscale_model

LAYOUTS = {  # file -> (kind, family)
    "sd15_ldm.safetensors": ("ldm", "sd15"), "sd15_bare.safetensors": ("bare", "sd15"),
    "sd15_diffusers.safetensors": ("diffusers", "sd15"), "sd21_ldm.safetensors": ("ldm", "sd21"),
    "sdxl_ldm.safetensors": ("ldm", "sdxl"), "sdxl_diffusers.safetensors": ("diffusers", "sdxl"),
    "sd15_control_lora.safetensors": ("control_lora", "sd15"), "sdxl_union.safetensors": ("union", "sdxl"),
    "t2i.safetensors": ("t2i", "sd15"), "t2i_xl.safetensors": ("t2i_xl", "sdxl"),
    "t2i_light.safetensors": ("t2i_light", "sd15"), "t2i_diffusers.safetensors": ("t2i_diffusers", "sd15"),
}
MS = ModelSampling()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = build_models(tmp_path_factory.mktemp("controlnet"), ("sd15", "sdxl"))
    folder = base / "models" / "controlnet"
    for name, (kind, family) in LAYOUTS.items():
        write_controlnet(kind, family, folder / name, seed=3)
    ckpt = base / "models" / "checkpoints" / "sd15_tiny.safetensors"
    write_controlnet("diff", "sd15", folder / "sd15_diff.safetensors", seed=3, checkpoint=ckpt)
    save_state_dict(build("ldm", "sd15", seed=3), folder / "control_sd15_shuffle.safetensors")
    save_state_dict(load_state_dict(ckpt), folder / "a_checkpoint.safetensors")
    write_upscale_model("esrgan", folder / "an_upscaler.safetensors")
    (folder / "pickled.pth").write_bytes(b"\x80\x04K\x01.")
    folders = FolderPaths.build(base)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))) as ctx:
        yield ctx


def cn(name: str):
    return run("ControlNetLoader", control_net_name=name)[0]


def _weights(control) -> dict:
    return control.control_model.state_dict()


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_loads(app, name):
    kind, family = LAYOUTS[name]
    control = cn(name)
    expected = {"control_lora": ControlLora}.get(kind, T2IAdapter if kind.startswith("t2i") else ControlNet)
    assert type(control) is expected and control.source_name == name
    if expected is ControlNet:
        assert control.control_model.config.family == {"sd21": "sd2"}.get(family, family)
        assert control.control_model.is_union == (kind == "union")
    if expected is T2IAdapter:
        assert control.t2i_model.xl == (kind == "t2i_xl")


def test_layouts_of_the_same_weights_load_equal(app):
    ldm = _weights(cn("sd15_ldm.safetensors"))
    for other in ("sd15_bare.safetensors", "sd15_diffusers.safetensors"):
        theirs = _weights(cn(other))
        assert theirs.keys() == ldm.keys() and all(torch.equal(ldm[k], theirs[k]) for k in ldm)
    xl_ldm, xl_diffusers = _weights(cn("sdxl_ldm.safetensors")), _weights(cn("sdxl_diffusers.safetensors"))
    assert all(torch.equal(xl_ldm[k], xl_diffusers[k]) for k in xl_ldm)
    t2i, t2i_d = cn("t2i.safetensors").t2i_model.state_dict(), cn("t2i_diffusers.safetensors").t2i_model.state_dict()
    assert t2i.keys() == t2i_d.keys() and all(torch.equal(t2i[k], t2i_d[k]) for k in t2i)


def test_diff_controlnet_is_rebuilt_from_its_model(app):
    model = load("sd15")[0]
    diff = run("DiffControlNetLoader", model=model, control_net_name="sd15_diff.safetensors")[0]
    full = _weights(cn("sd15_ldm.safetensors"))
    rebuilt = _weights(diff)
    assert all(torch.allclose(rebuilt[k], full[k], atol=1e-6) for k in full)
    with pytest.raises(ValueError, match=r"sd15_diff\.safetensors: a 'diff' ControlNet.*DiffControlNetLoader"):
        cn("sd15_diff.safetensors")


def test_shuffle_controlnets_pool_globally(app):
    assert cn("control_sd15_shuffle.safetensors").global_average_pooling
    assert not cn("sd15_ldm.safetensors").global_average_pooling


@pytest.mark.parametrize("name,looks_like", [("a_checkpoint.safetensors", "Stable Diffusion checkpoint"),
                                             ("an_upscaler.safetensors", "an upscale model"),
                                             ("pickled.pth", None)])
def test_wrong_files_are_refused_by_name(app, name, looks_like):
    pattern = re.escape(name) + ": " + (f"not a ControlNet.*{looks_like}" if looks_like else ".*pickle")
    with pytest.raises(ValueError, match=pattern):
        cn(name)


def _cond(tag: float, **options) -> list:
    return [[torch.full((1, 77, 32), tag), dict(options)]]


def test_apply_old_copies_chains_and_controls_the_negative(app):
    net = cn("sd15_ldm.safetensors")
    image = torch.rand(1, 64, 64, 3)
    first = run("ControlNetApply", conditioning=_cond(0), control_net=net, image=image, strength=0.8)[0]
    second = run("ControlNetApply", conditioning=first, control_net=net, image=image, strength=0.5)[0]
    control = second[0][1]["control"]
    assert control is not net and control.control_model is net.control_model and control.strength == 0.5
    assert control.previous_controlnet is first[0][1]["control"] and second[0][1]["control_apply_to_uncond"]
    assert torch.equal(control.cond_hint_original, image.movedim(-1, 1))
    assert run("ControlNetApply", conditioning=first, control_net=net, image=image, strength=0.0)[0] is first


def test_apply_advanced_shares_one_new_control_per_previous(app):
    net = cn("sd15_ldm.safetensors")
    image = torch.rand(1, 64, 64, 3)
    pos, neg = run("ControlNetApplyAdvanced", positive=_cond(1) + _cond(2), negative=_cond(3), control_net=net,
                   image=image, strength=0.7, start_percent=0.1, end_percent=0.6)
    made = {id(e[1]["control"]) for e in pos + neg}
    assert len(made) == 1 and not pos[0][1]["control_apply_to_uncond"]
    control = pos[0][1]["control"]
    assert control.timestep_percent_range == (0.1, 0.6) and control.previous_controlnet is None
    pos2, neg2 = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=net, image=image,
                     strength=1.0, start_percent=0.0, end_percent=1.0)
    assert pos2[0][1]["control"].previous_controlnet is control and pos2[0][1]["control"] is neg2[0][1]["control"]


def _model():
    """The tiny sd15 base model (with its model sampling), as sampling hands it to pre_run."""
    return load("sd15")[0].model


def _direct(control, x, sigma, ctx, y=None, **extra):
    """The ControlNet network called by hand as ControlNet.get_control should call it."""
    hint = upscale(control.cond_hint_original, x.shape[3] * 8, x.shape[2] * 8, "nearest-exact", "center")
    with torch.no_grad():
        return control.control_model(x=MS.calculate_input(sigma, x), hint=hint, timesteps=MS.timestep(sigma),
                                     context=ctx, y=y, **extra)


def test_get_control_is_the_network_times_strength_inside_its_range(app):
    net = cn("sd15_ldm.safetensors")
    hint = torch.rand(1, 3, 100, 60)
    a = net.copy().set_cond_hint(hint, 0.6, (0.2, 0.7))
    b = net.copy().set_cond_hint(torch.rand(1, 3, 64, 64), 1.5).set_previous_controlnet(a)
    model = _model()
    b.pre_run(model, MS.percent_to_sigma)
    x, ctx = torch.randn(2, 4, 8, 8), torch.randn(2, 77, 32)
    inside, before = torch.tensor([MS.percent_to_sigma(0.5)] * 2), torch.tensor([MS.percent_to_sigma(0.1)] * 2)
    direct_a, direct_b = _direct(a, x, inside, ctx), _direct(b, x, inside, ctx)
    got = b.get_control(x, inside, {"c_crossattn": ctx}, 1, {})
    for key in ("output", "middle"):
        for g, ra, rb in zip(got[key], direct_a[key], direct_b[key]):
            torch.testing.assert_close(g, ra * 0.6 + rb * 1.5, rtol=1e-5, atol=1e-5)
    outside = b.get_control(x, before, {"c_crossattn": ctx}, 1, {})  # a is outside its range
    for g, rb in zip(outside["output"], _direct(b, x, before, ctx)["output"]):
        torch.testing.assert_close(g, rb * 1.5)
    assert a.get_control(x, before, {"c_crossattn": ctx}, 1, {}) is None
    b.cleanup()
    assert a.cond_hint is None and a.timestep_range is None


def test_batched_hints_follow_the_conditioning_chunks(app):
    net = cn("sd15_ldm.safetensors").copy().set_cond_hint(torch.rand(2, 3, 64, 64), 1.0)
    net.pre_run(_model(), MS.percent_to_sigma)
    x, ctx = torch.randn(4, 4, 8, 8), torch.randn(4, 77, 32)  # [neg 0, neg 1, pos 0, pos 1]
    sigma = torch.tensor([3.0] * 4)
    got = net.get_control(x, sigma, {"c_crossattn": ctx}, 2, {})
    hints = net.cond_hint
    assert hints.shape[0] == 4 and torch.equal(hints[:2], hints[2:])
    torch.testing.assert_close(got["middle"][0][2:], _direct(net, x[2:], sigma[2:], ctx[2:])["middle"][0],
                               rtol=1e-5, atol=1e-5)


def test_union_type_reaches_the_network(app):
    union = cn("sdxl_union.safetensors")
    typed = nodes.NODE_CLASS_MAPPINGS["SetUnionControlNetType"].execute(union, "canny/lineart/anime_lineart/mlsd")[0]
    auto = nodes.NODE_CLASS_MAPPINGS["SetUnionControlNetType"].execute(union, "auto")[0]
    assert typed.extra_args == {"control_type": [3]} and auto.extra_args == {"control_type": []}
    assert union.extra_args == {}


def test_control_lora_adds_its_pairs_to_the_models_encoder(app):
    lora = cn("sd15_control_lora.safetensors").copy().set_cond_hint(torch.rand(1, 3, 64, 64), 1.0)
    model = _model()
    lora.pre_run(model, MS.percent_to_sigma)
    built, unet = lora.control_model.state_dict(), model.diffusion_model.state_dict()
    file = load_state_dict(app.folders.get_full_path("controlnet", "sd15_control_lora.safetensors"))
    layer = "input_blocks.1.0.in_layers.2"
    up, down = file[layer + ".up"].flatten(1), file[layer + ".down"].flatten(1)
    expected = unet[layer + ".weight"] + (up @ down).reshape(unet[layer + ".weight"].shape)
    torch.testing.assert_close(built[layer + ".weight"], expected)
    assert torch.equal(built[layer + ".bias"], file[layer + ".bias"])
    assert torch.equal(built["input_hint_block.0.weight"], file["input_hint_block.0.weight"])
    assert torch.equal(built["input_blocks.1.0.in_layers.0.weight"], unet["input_blocks.1.0.in_layers.0.weight"])
    lora.cleanup()
    assert lora.control_model is None


def test_controlnet_of_another_family_is_refused_before_running(app):
    xl = cn("sdxl_ldm.safetensors").copy().set_cond_hint(torch.rand(1, 3, 64, 64), 1.0)
    with pytest.raises(ValueError, match=r"sdxl_ldm\.safetensors was made for sdxl models.*sd15"):
        xl.pre_run(_model(), MS.percent_to_sigma)


def test_t2i_features_land_after_each_levels_last_block():
    features = [torch.full((1, 1, 1, 1), float(i)) for i in range(4)]
    sd1 = t2i_control_lists(features, xl=False)["input"]
    popped = [sd1.pop() for _ in range(12)]  # the UNet pops one per input block
    assert [i for i, f in enumerate(popped) if f is not None] == [2, 5, 8, 11]
    xl = t2i_control_lists(features, xl=True)
    popped = [xl["input"].pop() for _ in range(9)]
    assert [int(popped[i].item()) for i in (3, 5, 8)] == [0, 1, 2] and int(xl["middle"][0].item()) == 3


def test_ksampler_runs_the_controlnet_and_the_unet_adds_its_residuals(app):
    model, clip, _ = load("sd15")
    pos, neg = (run("CLIPTextEncode", clip=clip, text=t)[0] for t in ("a red cube", ""))
    control = cn("sd15_ldm.safetensors")
    applied = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=control,
                  image=torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(1)), strength=1.0,
                  start_percent=0.0, end_percent=1.0)
    seen = []
    hook = model.model.diffusion_model.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append({k: len(v) for k, v in (kwargs.get("control") or {}).items()}),
        with_kwargs=True)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    options = dict(model=model, seed=2, steps=2, cfg=5.0, sampler_name="euler", scheduler="normal",
                   latent_image=latent, denoise=1.0)
    try:
        with_control = run("KSampler", positive=applied[0], negative=applied[1], **options)[0]["samples"]
        plain = run("KSampler", positive=pos, negative=neg, **options)[0]["samples"]
    finally:
        hook.remove()
    blocks = len(model.model.diffusion_model.input_blocks)
    assert len(seen) == 4 and seen[2:] == [{}, {}]  # one batched call per step, control on the first run only
    assert all(s["middle"] == 1 and s["output"] == blocks for s in seen[:2])
    assert not torch.allclose(with_control, plain, atol=1e-4)
