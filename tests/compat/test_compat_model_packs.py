"""Model-side plugin code through ComfyUI's facades (comfy.model_patcher, comfy.sd,
comfy.samplers, comfy.ops, comfy.lora, comfy.ldm): the fixture pack `model_pack/` is loaded
by the real loader and its nodes run on a tiny SD1.5 checkpoint; each result is checked
against a computation that does not go through the mechanism under test."""

import copy
from pathlib import Path

import pytest
import torch

import nodes
from comfy_core.models.unet import timestep_embedding
from tests.compat.plugin_host import plugin_host
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora

PACK = Path(__file__).with_name("model_pack")
ATTN2_V = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_v.weight"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    base = tmp_path_factory.mktemp("model_packs")
    ckpt = make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    make_tiny_lora(ckpt, base / "models" / "loras" / "tiny_lora.safetensors")
    with plugin_host(base, (PACK,)) as bound:
        yield bound


@pytest.fixture(scope="module")
def pack(host):
    return {name: host.registry.get(name).cls for name in
            ("PackAttnScale", "PackFreeU", "PackCheckpointLoader", "PackEulerSampler")}


@pytest.fixture(scope="module")
def sd15(host, pack):
    model, clip, vae = pack["PackCheckpointLoader"]().load("sd15_tiny.safetensors")
    pos = nodes.CLIPTextEncode().encode(clip, "a red circle")[0]
    neg = nodes.CLIPTextEncode().encode(clip, "")[0]
    return model, clip, vae, pos, neg


def unet_inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 8, 8, generator=gen)
    context = torch.randn(2, 77, 32, generator=gen)
    return x, torch.tensor([700.0, 300.0]), context


def run_unet(model, x, t, context):
    """The MODEL's UNet with its transformer options, its patch state loaded."""
    import comfy.model_management

    comfy.model_management.load_models_gpu([model])
    options = copy.copy(model.model_options["transformer_options"])
    with torch.no_grad():
        return model.model.diffusion_model(x, t, context=context, transformer_options=options)


def test_attn2_replacement_written_by_hand_equals_scaled_value_weights(pack, sd15):
    model = sd15[0]
    patched = pack["PackAttnScale"]().apply(model, "input", 1, 2.0)[0]
    replacement = patched.model_options["transformer_options"]["patches_replace"]["attn2"][("input", 1)]
    assert "patches_replace" not in model.model_options["transformer_options"]  # the input is untouched
    x, t, context = unet_inputs()
    got = run_unet(patched, x, t, context)
    assert replacement.calls == 1
    reference = copy.deepcopy(model.model.diffusion_model)  # values x2 <=> to_v weight x2
    weight = reference.get_parameter(ATTN2_V.removeprefix("diffusion_model."))
    with torch.no_grad():
        weight.mul_(2.0)
        want = reference(x, t, context=context)
    assert torch.allclose(got, want, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(run_unet(model, x, t, context), want, atol=1e-3)


def unet_by_hand(unet, x, t, context, rule):
    """The SD UNet's forward written out, `rule(h, hsp) -> (h, hsp)` before each skip concat."""
    emb = unet.time_embed(timestep_embedding(t, unet.config.model_channels))
    hs, h = [], x
    for block in unet.input_blocks:
        h = block(h, emb, context)
        hs.append(h)
    h = unet.middle_block(h, emb, context)
    for block in unet.output_blocks:
        h, hsp = rule(h, hs.pop())
        h = block(torch.cat([h, hsp], dim=1), emb, context, None, hs[-1].shape if hs else None)
    return unet.out(h)


def test_output_block_patch_scales_backbone_and_skip(pack, sd15):
    model = sd15[0]
    patched = pack["PackFreeU"]().patch(model, 64, 1.3, 0.7)[0]
    x, t, context = unet_inputs(1)
    got = run_unet(patched, x, t, context)

    def freeu(h, hsp):
        return (h * 1.3, hsp * 0.7) if h.shape[1] == 64 else (h, hsp)

    with torch.no_grad():
        want = unet_by_hand(model.model.diffusion_model, x, t, context, freeu)
        plain = unet_by_hand(model.model.diffusion_model, x, t, context, lambda h, hsp: (h, hsp))
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)
    assert torch.allclose(run_unet(model, x, t, context), plain, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(want, plain, atol=1e-3)


def test_a_patcher_subclass_survives_clones_and_patches_weights_itself(pack, sd15, host):
    import comfy.model_patcher

    cls = type(pack["PackCheckpointLoader"]().load("sd15_tiny.safetensors")[0])
    model, clip = sd15[0], sd15[1]
    assert type(model) is cls and issubclass(cls, comfy.model_patcher.ModelPatcher)
    lora_model = nodes.LoraLoader().load_lora(model, clip, "tiny_lora.safetensors", 0.8, 0.0)[0]
    assert type(lora_model) is cls and lora_model.pack_tag == "counting"
    x, t, context = unet_inputs(2)
    before = dict(cls.patched_keys)
    with_lora = run_unet(lora_model, x, t, context)
    assert sum(cls.patched_keys.values()) > sum(before.values())  # the subclass applied them
    plain_model = nodes.CheckpointLoaderSimple().load_checkpoint("sd15_tiny.safetensors")[0]
    plain_lora = nodes.LoraLoader().load_lora(plain_model, clip, "tiny_lora.safetensors", 0.8, 0.0)[0]
    assert type(plain_lora) is comfy.model_patcher.ModelPatcher
    assert torch.allclose(with_lora, run_unet(plain_lora, x, t, context), atol=1e-6)
    assert torch.equal(run_unet(model, x, t, context), run_unet(plain_model, x, t, context))  # undone


def test_pack_ksampler_function_equals_builtin_euler(pack, sd15):
    import comfy.sample
    import comfy.samplers

    model, _, _, pos, neg = sd15
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 11)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4)
    seen = []
    ours = pack["PackEulerSampler"]().get_sampler(1.0)[0]
    got = comfy.sample.sample_custom(model, noise, 5.0, ours, sigmas, pos, neg, latent,
                                     callback=lambda i, x0, x, total: seen.append((i, total)))
    want = comfy.sample.sample_custom(model, noise, 5.0, comfy.samplers.sampler_object("euler"), sigmas,
                                      pos, neg, latent)
    assert torch.allclose(got, want, atol=1e-5) and seen == [(i, 4) for i in range(4)]
    halved = comfy.sample.sample_custom(model, noise, 5.0, pack["PackEulerSampler"]().get_sampler(0.5)[0],
                                        sigmas, pos, neg, latent)
    assert not torch.allclose(halved, want, atol=1e-3)  # extra_options reach the function


def test_load_checkpoint_guess_config_and_state_dict_loaders(host, tmp_path):
    import comfy.lora
    import comfy.sd
    from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict

    path = host.folders.get_full_path_or_raise("checkpoints", "sd15_tiny.safetensors")
    model, clip, vae, clip_vision = comfy.sd.load_checkpoint_guess_config(path)
    assert type(model).__name__ == "ModelPatcher" and clip_vision is None
    assert isinstance(vae, comfy.sd.VAE) and isinstance(clip, comfy.sd.CLIP)
    assert comfy.sd.load_checkpoint_guess_config(path, output_vae=False, output_clip=False)[1:3] == (None, None)
    state = load_state_dict(path)
    unet_only = {k: v for k, v in state.items() if k.startswith("model.diffusion_model.")}
    save_state_dict(unet_only, tmp_path / "unet.safetensors")
    model2, clip2, vae2, _ = comfy.sd.load_checkpoint_guess_config(str(tmp_path / "unet.safetensors"))
    assert clip2 is None and isinstance(vae2, comfy.sd.VAE)
    with pytest.raises(RuntimeError, match="VAE is invalid"):
        vae2.decode(torch.zeros(1, 4, 8, 8))
    vae_sd = {k.removeprefix("first_stage_model."): v for k, v in state.items() if k.startswith("first_stage_model.")}
    rebuilt = comfy.sd.VAE(sd=vae_sd)
    latent = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(rebuilt.decode(latent), vae.decode(latent), atol=1e-6)
    with pytest.raises(RuntimeError, match="Could not detect model type"):
        comfy.sd.load_checkpoint_guess_config(str(tmp_path / "unet.safetensors").replace("unet", "none"))
    assert comfy.sd.load_diffusion_model_state_dict({"nothing": torch.zeros(1)}) is None
    lora = load_state_dict(host.folders.get_full_path_or_raise("loras", "tiny_lora.safetensors"))
    keys = comfy.lora.model_lora_keys_unet(model.model, {})
    keys = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, keys)
    patches = comfy.lora.load_lora(lora, keys)
    by_hand = model.clone()
    by_hand.add_patches({k: v for k, v in patches.items() if k.startswith("diffusion_model.")}, 0.5)
    via_sd, via_clip = comfy.sd.load_lora_for_models(model, clip, lora, 0.5, 0.5)
    assert via_sd is not model and via_clip is not clip and not model.patches
    x, t, context = unet_inputs(3)
    assert torch.equal(run_unet(by_hand, x, t, context), run_unet(via_sd, x, t, context))


def test_custom_operations_build_the_unet_from_a_packs_layers(host):
    import comfy.ops
    import comfy.sd
    from comfy_core.loading.safetensors_io import load_state_dict

    calls = {"linear": 0}

    class CountingOps(comfy.ops.manual_cast):
        class Linear(comfy.ops.manual_cast.Linear):
            def forward_comfy_cast_weights(self, input):
                calls["linear"] += 1
                weight, bias = comfy.ops.cast_bias_weight(self, input)
                return torch.nn.functional.linear(input, weight, bias)

    path = host.folders.get_full_path_or_raise("checkpoints", "sd15_tiny.safetensors")
    state = load_state_dict(path)
    unet = {k: v.half() for k, v in state.items() if k.startswith("model.diffusion_model.")}
    model = comfy.sd.load_diffusion_model_state_dict(unet, {"custom_operations": CountingOps})
    layer = model.model.diffusion_model.input_blocks[1][1].transformer_blocks[0].attn2.to_q
    assert isinstance(layer, CountingOps.Linear) and layer.weight.dtype == torch.float16
    plain = comfy.sd.load_diffusion_model_state_dict(unet, {"dtype": torch.float32})
    x, t, context = unet_inputs(4)
    got = model.model.apply_model(x, t * 0 + 5.0, c_crossattn=context)
    want = plain.model.apply_model(x, t * 0 + 5.0, c_crossattn=context)
    assert calls["linear"] > 0 and got.dtype == torch.float32
    assert torch.allclose(got, want, atol=1e-5)


def test_encode_token_weights_of_the_stage_and_its_encoders_equal_clip_encoding(host, sd15, tmp_path):
    import comfy.sd
    import comfy.sd1_clip
    import comfy.sdxl_clip

    clip = sd15[1]
    stage = clip.cond_stage_model
    assert isinstance(stage, comfy.sd1_clip.SD1ClipModel) and not isinstance(stage, comfy.sdxl_clip.SDXLClipModel)
    assert isinstance(stage.clip_l, comfy.sd1_clip.SDClipModel) and not isinstance(stage.clip_l, comfy.sdxl_clip.SDXLClipG)
    tokens = clip.tokenize("a (red:1.3) circle, " * 20)  # weighted, two chunks
    assert len(tokens["l"]) == 2
    want, want_pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    clip.load_model()
    stage.reset_clip_options()
    got, pooled = stage.encode_token_weights(tokens)
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(pooled, want_pooled, atol=1e-6)
    assert torch.allclose(stage.clip_l.encode_token_weights(tokens["l"])[0], want, atol=1e-6)
    stage.set_clip_options({"layer": -2})
    penultimate = nodes.CLIPSetLastLayer().set_last_layer(clip, -2)[0].encode_from_tokens(tokens)
    assert torch.allclose(stage.clip_l.encode_token_weights(tokens["l"])[0], penultimate, atol=1e-6)
    assert not torch.allclose(penultimate, want, atol=1e-3)
    stage.reset_clip_options()

    sdxl = make_tiny_checkpoint("sdxl", tmp_path)
    xl_clip = comfy.sd.load_checkpoint_guess_config(str(sdxl), output_vae=False)[1]
    xl_stage = xl_clip.cond_stage_model
    assert isinstance(xl_stage, comfy.sdxl_clip.SDXLClipModel) and isinstance(xl_stage.clip_g, comfy.sdxl_clip.SDXLClipG)
    assert not isinstance(xl_stage, (comfy.sdxl_clip.SDXLRefinerClipModel, comfy.sd1_clip.SD1ClipModel))
    xl_tokens = xl_clip.tokenize("a (blue:0.8) square")
    want, want_pooled = xl_clip.encode_from_tokens(xl_tokens, return_pooled=True)
    xl_clip.load_model()
    got, pooled = xl_stage.encode_token_weights(xl_tokens)
    assert got.shape[-1] == want.shape[-1] and torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(pooled, want_pooled, atol=1e-6)


def test_converted_conds_read_and_copy_like_comfyuis_dicts(host, sd15, tmp_path):
    """What samplers in packs do before sampling by hand (an unsampler, say): convert the
    conditioning, copy each entry, ask for the extra models it brings."""
    import comfy.controlnet
    import comfy.model_management
    import comfy.sampler_helpers
    from comfy_core.tools.make_controlnet import write_controlnet

    model, _, _, pos, neg = sd15
    control = comfy.controlnet.load_controlnet(str(write_controlnet("ldm", "sd15", tmp_path / "cn.safetensors")))
    assert control.control_model.dtype == torch.float32  # packs cast hints and inputs to it
    hint = torch.rand(1, 64, 64, 3)
    controlled = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, control, hint, 0.8, 0.0, 1.0)
    conds = {name: [entry.copy() for entry in comfy.sampler_helpers.convert_cond(cond)]
             for name, cond in zip(("positive", "negative"), controlled)}
    first = conds["positive"][0]
    assert torch.equal(first["cross_attn"], pos[0][0]) and "control" in first and "uuid" in first
    assert first.get("pooled_output") is pos[0][1]["pooled_output"] and first.get("absent", 3) == 3
    models, memory = comfy.sampler_helpers.get_additional_models(conds, model.model_dtype())
    assert len(models) == 1 and memory >= 0  # one ControlNet chain, shared by both
    assert comfy.model_management.intermediate_dtype() == torch.float32


def test_clip_vision_loads_files_and_state_dicts_and_encodes_as_packs_call_it(host, tmp_path):
    import comfy.clip_vision
    from comfy_core.loading.safetensors_io import load_state_dict
    from comfy_core.tools.make_clip_vision import write_clip_vision

    path = write_clip_vision("vit-h", tmp_path / "vision.safetensors")
    vision = comfy.clip_vision.load(str(path))
    assert isinstance(vision, comfy.clip_vision.ClipVisionModel) and vision.image_size == 224
    image = torch.rand(2, 80, 96, 3, generator=torch.Generator().manual_seed(3))
    out = vision.encode_image(image)
    assert isinstance(out, comfy.clip_vision.Output) and out["image_embeds"].shape[0] == 2
    prefixed = {f"clip_vision.{k}": v for k, v in load_state_dict(path).items()}  # e.g. inside another file
    again = comfy.clip_vision.load_clipvision_from_sd(prefixed, prefix="clip_vision.")
    assert torch.allclose(again.encode_image(image).image_embeds, out.image_embeds, atol=1e-6)
    pixels = comfy.clip_vision.clip_preprocess(image, size=224)  # what IPAdapter does itself
    with torch.no_grad():
        last, penultimate, embeds, _ = vision.model(pixel_values=pixels, intermediate_output=-2)
    assert torch.allclose(embeds, out.image_embeds, atol=1e-5)
    assert torch.allclose(penultimate, out.penultimate_hidden_states, atol=1e-5)
    lora = host.folders.get_full_path_or_raise("loras", "tiny_lora.safetensors")
    with pytest.raises(Exception, match="CLIP vision"):
        comfy.clip_vision.load(lora)


def test_a_controlnets_wrapper_hook_sees_the_runs_conds_and_may_replace_them(host, sd15, tmp_path):
    """Advanced-ControlNet's pattern: a ControlNet carries an outer-sample wrapper in its
    `extra_hooks`; the wrapper reads `guider.conds` (this run's copies) and may swap them."""
    import comfy.controlnet
    import comfy.hooks
    import comfy.patcher_extension
    import comfy.sample
    import comfy.sampler_helpers
    import comfy.samplers
    from comfy.ldm.modules.attention import BasicTransformerBlock
    from comfy_core.tools.make_controlnet import write_controlnet

    model, _, _, pos, neg = sd15
    seen = []

    def outer_sample(executor, *args, **kwargs):
        guider = executor.class_obj
        seen.extend(c["control"] for c in guider.conds["positive"] if "control" in c)
        guider.conds = {"positive": comfy.sampler_helpers.convert_cond(pos),
                        "negative": comfy.sampler_helpers.convert_cond(neg)}  # drop the ControlNet
        return executor(*args, **kwargs)

    wrappers = {}
    comfy.patcher_extension.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "pack",
                                                 outer_sample, transformer_options=wrappers)
    hooked = comfy.controlnet.load_controlnet(str(write_controlnet("ldm", "sd15", tmp_path / "cn.safetensors")))
    plain_control = hooked.copy()
    hooked.extra_hooks = comfy.hooks.HookGroup()
    hooked.extra_hooks.add(comfy.hooks.WrapperHook(wrappers))
    hint = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(4))
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 12)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 3)
    euler = comfy.samplers.sampler_object("euler")

    def sample(control):
        p, n = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, control, hint, 1.0, 0.0, 1.0)
        return comfy.sample.sample_custom(model, noise, 5.0, euler, sigmas, p, n, latent)

    without = comfy.sample.sample_custom(model, noise, 5.0, euler, sigmas, pos, neg, latent)
    assert not torch.allclose(sample(plain_control), without, atol=1e-4)
    assert torch.allclose(sample(hooked), without, atol=1e-6) and len(seen) == 1  # swapped before resolving
    block = BasicTransformerBlock(32, 2, 16, 32)  # what packs re-implementing its forward read
    assert block.ff_in is False and block.is_res and not block.switch_temporal_ca_to_sa
