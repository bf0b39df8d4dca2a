"""CLIPSetLastLayer and the sampler progress/preview callback helper."""

from __future__ import annotations

import pytest
import torch

from comfy_core import runtime
from comfy_core.models.family import SD15, SDXL
from comfy_core.models.clip_value import CLIP
from comfy_core.tools.make_taesd import write_taesd_decoder, write_taesd_encoder
from nodes.common import sampler_progress
from nodes.conditioning import CLIPSetLastLayer


def test_clip_set_last_layer_clones():
    clip = CLIP({}, SD15)
    (out,) = CLIPSetLastLayer().set_last_layer(clip, -2)
    assert out is not clip and out.layer_idx == -2 and clip.layer_idx is None
    spec = CLIPSetLastLayer.INPUT_TYPES()["required"]["stop_at_clip_layer"]
    assert spec == ("INT", {"default": -1, "min": -24, "max": -1, "step": 1})


class _Model:
    """Just what the progress helper reads from a MODEL: its base model's latent format."""

    class model:  # noqa: N801 (ComfyUI's attribute name)
        latent_format = SDXL.latent


# ComfyUI 0.8.0's default is no previews; a prompt asks for them in extra_data.
@pytest.mark.parametrize("override,expect_preview", [
    (None, False), ("default", False), ("none", False), ("auto", True), ("latent2rgb", True)])
def test_sampler_progress_reports_and_previews(app, override, expect_preview):
    seen = []
    extra = {} if override is None else {"preview_method": override}
    job = runtime.JobContext(prompt_id="p", extra_data=extra,
                             on_progress=lambda v, n, p: seen.append((v, n, p)))
    with runtime.use_job(job):
        callback = sampler_progress(_Model(), 2)
    x0 = torch.zeros(1, 4, 3, 3)
    callback(0, x0, x0, 2)
    callback(1, x0, x0, 2)
    assert [(v, n) for v, n, _ in seen] == [(1, 2), (2, 2)]
    assert (seen[-1][2] is not None) == expect_preview
    if expect_preview:
        fmt, image, size = seen[-1][2]
        assert (fmt, image.size, size) == ("JPEG", (3, 3), 512)
        bias = [int((b + 1) / 2 * 255) for b in SDXL.latent.latent_rgb_factors_bias]
        assert list(image.getpixel((0, 0))) == pytest.approx(bias, abs=1)


def test_preview_method_flag_is_the_default_a_prompt_overrides(tmp_path):
    from comfy_core.files import FolderPaths
    from comfy_core.settings import parse_settings

    settings = parse_settings(["--base-directory", str(tmp_path), "--preview-method",
                               "latent2rgb"], {})
    assert parse_settings([], {}).preview_method == "none"
    app = runtime.AppContext(folders=FolderPaths.build(tmp_path), settings=settings)
    for extra, expect in (({}, True), ({"preview_method": "default"}, True),
                          ({"preview_method": "none"}, False)):
        seen = []
        job = runtime.JobContext(prompt_id="p", extra_data=extra,
                                 on_progress=lambda v, n, p: seen.append(p))
        with runtime.use_app(app), runtime.use_job(job):
            callback = sampler_progress(_Model(), 1)
        callback(0, torch.zeros(1, 4, 2, 2), None, 1)
        assert (seen[-1] is not None) == expect, extra


def test_sampler_progress_raises_when_interrupted(app):
    job = runtime.JobContext(prompt_id="p")
    job.interrupt.set()
    with runtime.use_job(job):
        callback = sampler_progress(_Model(), 1)
    with pytest.raises(runtime.Interrupted):
        callback(0, torch.zeros(1, 4, 1, 1), None, 1)


def _preview_of(latent_size: int):
    seen = []
    job = runtime.JobContext(prompt_id="p", extra_data={"preview_method": "taesd"},
                             on_progress=lambda v, n, p: seen.append(p))
    with runtime.use_job(job):
        callback = sampler_progress(_Model(), 1)
    x0 = torch.zeros(1, 4, latent_size, latent_size)
    callback(0, x0, x0, 1)
    return seen[-1][1]


def test_taesd_previews_when_the_decoder_is_installed(app, caplog):
    assert _preview_of(3).size == (3, 3)  # no decoder yet: latent2rgb at latent size
    assert "taesdxl_decoder.safetensors; using latent2rgb" in caplog.text
    vae_approx = app.folders.get_folder_paths("vae_approx")[0]
    (vae_approx / "taesd_decoder.safetensors").parent.mkdir(parents=True, exist_ok=True)
    write_taesd_decoder(vae_approx / "taesd_decoder.safetensors")  # SD1's: not for SDXL
    assert _preview_of(3).size == (3, 3)
    write_taesd_decoder(vae_approx / "taesdxl_decoder.safetensors")
    image = _preview_of(3)
    assert image.size == (24, 24)  # decoded to pixels: 8x the latent


def test_vae_loader_taesd_uses_both_halves_from_vae_approx(app):
    from nodes.loaders import VAELoader
    from nodes.vae import VAEDecode, VAEEncode

    vae_approx = app.folders.get_folder_paths("vae_approx")[0]
    vae_approx.mkdir(parents=True, exist_ok=True)
    write_taesd_decoder(vae_approx / "taesd_decoder.safetensors")
    assert "taesd" not in VAELoader.INPUT_TYPES()["required"]["vae_name"][0]  # one half only
    with pytest.raises(ValueError, match="taesd_encoder.safetensors and taesd_decoder"):
        VAELoader().load_vae("taesd")
    write_taesd_encoder(vae_approx / "taesd_encoder.safetensors")
    assert "taesd" in VAELoader.INPUT_TYPES()["required"]["vae_name"][0]
    (vae,) = VAELoader().load_vae("taesd")
    (latent,) = VAEEncode().encode(vae, torch.rand(1, 16, 24, 3))
    assert latent["samples"].shape == (1, 4, 2, 3)
    (image,) = VAEDecode().decode(vae, latent)
    assert image.shape == (1, 16, 24, 3) and 0 <= image.min() and image.max() <= 1
    with pytest.raises(ValueError, match="'taesd3' is not an SD1.x/SD2.x/SDXL VAE"):
        VAELoader().load_vae("taesd3")
