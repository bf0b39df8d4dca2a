"""TAESD preview decoder: same numbers as diffusers' AutoencoderTiny on the same weights,
generated in the public file layout; bad files are named."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderTiny

from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict, save_state_dict
from comfy_core.loading.taesd import find_decoder, load_decoder, load_vae
from comfy_core.models.taesd import preview_pixels
from comfy_core.tools.make_checkpoint import main as make_checkpoint


@pytest.fixture(scope="module")
def decoder_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vae_approx") / "taesd_decoder.safetensors"
    make_checkpoint(["--family", "sd15", "--taesd", str(path), "--seed", "3",
                     "--taesd-encoder", str(path.with_name("taesd_encoder.safetensors"))])
    return path


def _reference(decoder_file) -> AutoencoderTiny:
    """diffusers' AutoencoderTiny with our files' weights (its module lists drop the
    decoder's leading clamp: decoder index k there is k + 1 here; the encoder's match)."""
    reference = AutoencoderTiny().eval()
    converted = {}
    for part, path in (("decoder", decoder_file), ("encoder", decoder_file.with_name("taesd_encoder.safetensors"))):
        for key, value in load_state_dict(path).items():
            index, rest = key.split(".", 1)
            converted[f"{part}.layers.{int(index) - (part == 'decoder')}.{rest}"] = value
    missing, unexpected = reference.load_state_dict(converted, strict=False)
    assert not missing and not unexpected
    return reference


def test_decoder_matches_diffusers_autoencoder_tiny(decoder_file):
    reference = _reference(decoder_file)
    latent = torch.randn(2, 4, 6, 5, generator=torch.Generator().manual_seed(0)) * 2
    ours = load_decoder(decoder_file)
    with torch.no_grad():
        expected = (reference.decode(latent).sample + 1) / 2  # diffusers returns -1..1
        got = ours(latent)
    assert got.shape == (2, 3, 48, 40)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    pixels = preview_pixels(ours, latent)
    assert pixels.shape == (48, 40, 3)
    torch.testing.assert_close(pixels, expected[0].clamp(0, 1).movedim(0, -1), rtol=1e-5, atol=1e-5)


def test_find_decoder_prefers_safetensors_and_never_pickles(caplog):
    names = ["taesdxl_decoder.safetensors", "taesd_encoder.safetensors", "taesd_decoder.safetensors"]
    assert find_decoder(names, "taesd_decoder") == "taesd_decoder.safetensors"
    assert find_decoder(names, "taesdxl_decoder") == "taesdxl_decoder.safetensors"
    assert find_decoder(["taesd_decoder.pth"], "taesd_decoder") is None
    assert "taesd_decoder.pth is not a safetensors file" in caplog.text


def test_wrong_files_are_named(tmp_path, decoder_file):
    other = tmp_path / "taesd_decoder.safetensors"
    save_state_dict({"weight": torch.zeros(2, 2)}, other)
    with pytest.raises(CheckpointError, match="taesd_decoder.safetensors: not a TAESD decoder"):
        load_decoder(other)
    state = load_state_dict(decoder_file)
    state["19.weight"] = torch.zeros(3, 32, 3, 3)
    save_state_dict(state, other)
    with pytest.raises(CheckpointError, match="not a TAESD decoder"):
        load_decoder(other)


def test_taesd_as_a_vae_matches_diffusers_both_ways(decoder_file):
    """VAELoader's taesd: raw latents in and out (the SD1 scale factor applied inside)."""
    reference = _reference(decoder_file)
    vae = load_vae(decoder_file.with_name("taesd_encoder.safetensors"), decoder_file, 0.18215)
    image = torch.rand(1, 32, 40, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected_latent = reference.encode(image.movedim(-1, 1) * 2 - 1).latents / 0.18215
        latent = vae.encode(image)
        torch.testing.assert_close(latent, expected_latent, rtol=1e-4, atol=1e-4)
        decoded = vae.decode(latent)
        expected = ((reference.decode(latent * 0.18215).sample + 1) / 2).clamp(0, 1).movedim(1, -1)
    assert latent.shape == (1, 4, 4, 5) and decoded.shape == (1, 32, 40, 3)
    torch.testing.assert_close(decoded, expected, rtol=1e-4, atol=1e-4)
