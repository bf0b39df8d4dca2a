"""InstructPix2Pix checkpoints (8-channel UNets) through the real nodes on tiny random
weights: detection, InstructPixToPixConditioning's outputs, and what the UNet receives in
its extra channels when KSampler runs (a forward pre-hook records it)."""

from __future__ import annotations

import pytest
import torch
from nodes_models_helpers import build_models, encode, ksample, load, run

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.settings import Settings


@pytest.fixture(scope="module")
def ip2p_model(tmp_path_factory):
    base = build_models(tmp_path_factory.mktemp("ip2p"), families=("sd15_ip2p",))
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        model, clip, vae = load("sd15_ip2p")
        yield model, vae, encode(clip, "make it snow"), encode(clip, "")


def test_detected_as_instruct_pix2pix(ip2p_model):
    family = ip2p_model[0].model.family
    assert family.ip2p and not family.inpaint and family.unet.in_channels == 8


def test_conditioning_node_and_sampling_see_the_raw_image_latent(ip2p_model):
    model, vae, pos, neg = ip2p_model
    pixels = torch.rand(1, 70, 68, 3, generator=torch.Generator().manual_seed(0))  # cropped to 64x64
    new_pos, new_neg, latent = run("InstructPixToPixConditioning", positive=pos, negative=neg,
                                   vae=vae, pixels=pixels)
    (expected,) = run("VAEEncode", vae=vae, pixels=pixels[:, 3:67, 2:66])
    concat = new_pos[0][1]["concat_latent_image"]
    torch.testing.assert_close(concat, expected["samples"])
    assert new_neg[0][1]["concat_latent_image"] is concat and "concat_latent_image" not in pos[0][1]
    assert torch.equal(latent["samples"], torch.zeros(1, 4, 8, 8))
    seen: list[torch.Tensor] = []
    hook = model.model.diffusion_model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().cpu()))
    try:
        out = ksample(model, new_pos, new_neg, latent, steps=2, cfg=5.0)
        plain = ksample(model, pos, neg, latent, steps=2, cfg=5.0)
    finally:
        hook.remove()
    assert torch.isfinite(out["samples"]).all() and not torch.allclose(out["samples"], plain["samples"])
    assert len(seen) == 4 and all(x.shape == (2, 8, 8, 8) for x in seen)
    for x in seen[:2]:  # SD1.x InstructPix2Pix takes the VAE latent as it is (not scaled)
        torch.testing.assert_close(x[:, 4:], concat.repeat(2, 1, 1, 1))
    for x in seen[2:]:  # no image: zeros
        assert torch.equal(x[:, 4:], torch.zeros(2, 4, 8, 8))
