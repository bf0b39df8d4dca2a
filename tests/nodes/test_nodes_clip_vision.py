"""CLIP vision, unCLIP and style-model nodes on tiny generated files: CLIPVisionEncode
against transformers on the same weights, an SD 2.1 unCLIP checkpoint end to end (the `y`
its UNet receives equals diffusers' Stable unCLIP noising of the image embedding), SDXL
taking the image embedding as its pooled input, style tokens appended to the prompt, and
wrong or unsafe files refused naming the file."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from diffusers import DDPMScheduler
from diffusers.pipelines.stable_diffusion.pipeline_stable_unclip_img2img import StableUnCLIPImg2ImgPipeline
from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
from nodes_models_helpers import empty_latent, encode, ksample, run
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.clip_vision import clip_preprocess
from comfy_core.settings import Settings
from comfy_core.tools.make_clip_vision import write_clip_vision
from comfy_core.tools.make_style_model import write_style_model
from comfy_core.tools.make_unclip import write_unclip_checkpoint
from tests.fixtures.checkpoints import make_tiny_checkpoint

UNCLIP = "unclip_tiny.safetensors"


@pytest.fixture(scope="module")
def vision_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("vision")
    models = base / "models"
    write_unclip_checkpoint(models / "checkpoints" / UNCLIP, seed=4)
    for family in ("sd15", "sd21v", "sdxl"):
        make_tiny_checkpoint(family, models / "checkpoints")
    write_clip_vision("vit-h", models / "clip_vision" / "vit_h.safetensors", seed=3)
    write_clip_vision("vit-l", models / "clip_vision" / "vit_l_openclip.safetensors", layout="openclip", seed=5)
    write_style_model(models / "style_models" / "style.safetensors", seed=2)
    write_style_model(models / "clip_vision" / "a_style_model.safetensors", seed=2)
    (models / "clip_vision" / "pickled.pt").write_bytes(b"\x80\x04K\x01.")
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield models


def _image(h: int = 48, w: int = 80) -> torch.Tensor:
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(1))


def _transformers(state: dict, cfg) -> CLIPVisionModelWithProjection:
    ref = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, image_size=cfg.image_size, patch_size=cfg.patch_size,
        projection_dim=cfg.projection_dim, hidden_act=cfg.hidden_act)).eval()
    ref.load_state_dict(state, strict=False)
    return ref


def test_clip_vision_encode_equals_transformers(vision_app):
    vision = run("CLIPVisionLoader", clip_name="vit_h.safetensors")[0]
    image = _image()
    out = run("CLIPVisionEncode", clip_vision=vision, image=image, crop="center")[0]
    ref = _transformers(load_state_dict(vision_app / "clip_vision" / "vit_h.safetensors"), vision.model.config)
    with torch.no_grad():
        want = ref(pixel_values=clip_preprocess(image, 224, crop=True), output_hidden_states=True)
    torch.testing.assert_close(out.image_embeds, want.image_embeds, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["last_hidden_state"], want.last_hidden_state, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.penultimate_hidden_states, want.hidden_states[-2], rtol=1e-5, atol=1e-5)
    squashed = run("CLIPVisionEncode", clip_vision=vision, image=image, crop="none")[0]
    assert not torch.allclose(squashed.image_embeds, out.image_embeds)
    openclip = run("CLIPVisionLoader", clip_name="vit_l_openclip.safetensors")[0]
    assert run("CLIPVisionEncode", clip_vision=openclip, image=image, crop="center")[0].image_embeds.shape == (1, 32)


def test_wrong_and_pickled_files_are_refused_naming_them(vision_app):
    with pytest.raises(Exception, match="a_style_model.safetensors") as err:
        run("CLIPVisionLoader", clip_name="a_style_model.safetensors")
    assert "CLIP vision" in str(err.value)
    with pytest.raises(CheckpointError, match="pickled.pt: pickle checkpoints"):
        run("CLIPVisionLoader", clip_name="pickled.pt")
    with pytest.raises(Exception, match="sd21v_tiny.safetensors.*unCLIP checkpoint.*CheckpointLoaderSimple"):
        run("unCLIPCheckpointLoader", ckpt_name="sd21v_tiny.safetensors")
    with pytest.raises(CheckpointError, match="vit_h.safetensors: expected a T2I-Adapter style model"):
        from comfy_core.loading.style_models import load_style_model

        load_style_model(vision_app / "clip_vision" / "vit_h.safetensors")


def _diffusers_adm(embeds: torch.Tensor, level: int, seed: int) -> torch.Tensor:
    """diffusers' Stable unCLIP noising (normaliser, squared-cosine DDPM, level embedding)."""
    pipe = SimpleNamespace(image_normalizer=StableUnCLIPImageNormalizer(embeds.shape[1]),
                           image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"))
    noise = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return StableUnCLIPImg2ImgPipeline.noise_image_embeddings(pipe, embeds, level, noise=noise)


def _record_y(model):
    """A clone of `model` whose UNet calls record (cond_or_uncond, y)."""
    seen: list = []

    def wrapper(apply_model, args):
        seen.append((list(args["cond_or_uncond"]), args["c"].get("y")))
        return apply_model(args["input"], args["timestep"], **args["c"])

    patched = model.clone()
    patched.set_model_unet_function_wrapper(wrapper)
    return patched, seen


def _y_of(seen: list, which: int) -> torch.Tensor:
    """The `y` rows of the positive (0) or negative (1) prompt in the first model call."""
    flags, y = seen[0]
    rows = y.shape[0] // len(flags)
    i = flags.index(which)
    return y[i * rows:(i + 1) * rows]


def test_unclip_checkpoint_end_to_end(vision_app):
    model, clip, vae, vision = run("unCLIPCheckpointLoader", ckpt_name=UNCLIP)
    assert model.model.family.name == "sd21_unclip" and model.model.adm_channels == 64
    embeds = run("CLIPVisionEncode", clip_vision=vision, image=_image(), crop="center")[0]
    pos = run("unCLIPConditioning", conditioning=encode(clip, "a cat"), clip_vision_output=embeds, strength=1.3,
              noise_augmentation=0.2)[0]
    assert run("unCLIPConditioning", conditioning=pos, clip_vision_output=embeds, strength=0.0,
               noise_augmentation=0.5)[0] is pos
    recording, seen = _record_y(model)
    samples = ksample(recording, pos, encode(clip, ""), empty_latent(), seed=42, steps=2)["samples"]
    want = 1.3 * _diffusers_adm(embeds.image_embeds, round(999 * 0.2), seed=42 - 10)
    torch.testing.assert_close(_y_of(seen, 0), want.expand(_y_of(seen, 0).shape), rtol=1e-4, atol=1e-5)
    assert torch.equal(_y_of(seen, 1), torch.zeros_like(_y_of(seen, 1)))  # no image: zeros
    image = run("VAEDecode", samples={"samples": samples}, vae=vae)[0]
    assert image.shape == (1, 64, 64, 3) and torch.isfinite(image).all()


def test_sdxl_takes_the_image_embedding_as_its_pooled_input(vision_app):
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sdxl_tiny.safetensors")
    vision = run("CLIPVisionLoader", clip_name="vit_h.safetensors")[0]  # tiny: 32 wide, as tiny SDXL's pooled
    embeds = run("CLIPVisionEncode", clip_vision=vision, image=_image(), crop="center")[0]
    text = encode(clip, "")
    pos = run("unCLIPConditioning", conditioning=text, clip_vision_output=embeds, strength=0.7,
              noise_augmentation=0.1)[0]
    recording, seen = _record_y(model)
    ksample(recording, pos, text, empty_latent(), seed=7, steps=1)
    image_y, text_y = _y_of(seen, 0), _y_of(seen, 1)
    want = 0.7 * _diffusers_adm(embeds.image_embeds, round(999 * 0.1), seed=7 - 10)[:, :32]
    torch.testing.assert_close(image_y[:, :32], want.expand(image_y.shape[0], 32), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(image_y[:, 32:], text_y[:, 32:])  # the size embeddings are the text's


def test_style_model_tokens_are_appended(vision_app):
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sd15_tiny.safetensors")
    style = run("StyleModelLoader", style_model_name="style.safetensors")[0]
    vision = run("CLIPVisionLoader", clip_name="vit_h.safetensors")[0]
    embeds = run("CLIPVisionEncode", clip_vision=vision, image=_image(), crop="center")[0]
    text = encode(clip, "a dog")
    tokens = style.get_cond(embeds)  # [1, 4, 32]
    out = run("StyleModelApply", conditioning=text, style_model=style, clip_vision_output=embeds, strength=0.5,
              strength_type="multiply")[0]
    torch.testing.assert_close(out[0][0], torch.cat([text[0][0], 0.5 * tokens], dim=1))
    assert "attention_mask" not in out[0][1] and out[0][1]["pooled_output"] is text[0][1]["pooled_output"]
    biased = run("StyleModelApply", conditioning=text, style_model=style, clip_vision_output=embeds, strength=2.0,
                 strength_type="attn_bias")[0]
    torch.testing.assert_close(biased[0][0], torch.cat([text[0][0], tokens], dim=1))
    mask, n = biased[0][1]["attention_mask"], text[0][0].shape[1]
    assert mask.shape == (1, n + 5, n + 5)  # text, 4 style tokens, the 1x1 reference image
    assert torch.allclose(mask[0, :n, n:n + 4].float(), torch.log(torch.tensor(2.0)), atol=1e-3)
    assert torch.equal(mask[0, :n, :n], torch.zeros(n, n, dtype=mask.dtype))
    latent = ksample(model, biased, encode(clip, ""), empty_latent(), seed=3, steps=1)["samples"]  # SD1 ignores the mask
    assert torch.isfinite(latent).all()


def test_unclip_checkpoint_saved_with_its_vision_tower_reloads(vision_app, tmp_path):
    from comfy_core.loading.clip_vision import load_unclip_checkpoint
    from nodes.model_merging import save_checkpoint

    model, clip, vae, vision = run("unCLIPCheckpointLoader", ckpt_name=UNCLIP)
    save_checkpoint(model, clip, vae, clip_vision=vision, filename_prefix="unclip", output_dir=tmp_path)
    saved = load_state_dict(tmp_path / "unclip_00001_.safetensors")
    original = load_state_dict(vision_app / "checkpoints" / UNCLIP)
    assert set(original) <= set(saved) and all(torch.equal(saved[k], original[k]) for k in original)
    ckpt, vision2 = load_unclip_checkpoint(tmp_path / "unclip_00001_.safetensors")
    assert ckpt.family.name == "sd21_unclip"
    image = _image()
    torch.testing.assert_close(vision2.encode_image(image).image_embeds, vision.encode_image(image).image_embeds)


def test_packs_see_the_unclip_model_class(vision_app, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "compat"))
    import comfy.model_base

    model = run("unCLIPCheckpointLoader", ckpt_name=UNCLIP)[0]
    assert isinstance(model.model, comfy.model_base.SD21UNCLIP)
    assert not isinstance(run("CheckpointLoaderSimple", ckpt_name="sd21v_tiny.safetensors")[0].model,
                          comfy.model_base.SD21UNCLIP)
