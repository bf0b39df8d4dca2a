"""T2I-Adapter style model and PhotoMaker ID encoder against hand-written references built
from torch's own layers and transformers' CLIP vision model on the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from comfy_core.loading.photomaker import load_photomaker
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.loading.style_models import load_style_model
from comfy_core.tools.make_photomaker import photomaker_layout, random_photomaker_state, write_photomaker
from comfy_core.tools.make_style_model import TINY, random_style_state, write_style_model


def _style_by_hand(sd: dict, x: torch.Tensor) -> torch.Tensor:
    """The released StyleAdapter's forward, sequence-first as written (Mou et al. 2023)."""
    w = TINY.width
    x = torch.cat([x, sd["style_embedding"].expand(x.shape[0], -1, -1)], dim=1)
    x = F.layer_norm(x, (w,), sd["ln_pre.weight"], sd["ln_pre.bias"]).permute(1, 0, 2)  # LND
    for i in range(TINY.num_layers):
        p = f"transformer_layes.{i}."
        attn = torch.nn.MultiheadAttention(w, TINY.num_heads)
        attn.load_state_dict({k[len(p) + 5:]: v for k, v in sd.items() if k.startswith(p + "attn.")})
        h = F.layer_norm(x, (w,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        x = x + attn(h, h, h, need_weights=False)[0]
        h = F.layer_norm(x, (w,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
        h = F.linear(h, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"])
        x = x + F.linear(h * torch.sigmoid(1.702 * h), sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])
    x = x.permute(1, 0, 2)[:, -TINY.num_tokens:]
    return F.layer_norm(x, (w,), sd["ln_post.weight"], sd["ln_post.bias"]) @ sd["proj"]


class _Output:
    def __init__(self, hidden: torch.Tensor) -> None:
        self.last_hidden_state = hidden


def test_style_model_matches_the_reference_forward(tmp_path) -> None:
    model = load_style_model(write_style_model(tmp_path / "style.safetensors", seed=2))
    hidden = torch.randn(2, 257, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = _style_by_hand(random_style_state(TINY, seed=2), hidden)
    torch.testing.assert_close(model.get_cond(_Output(hidden)), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="32-wide image features"):
        model.get_cond(_Output(torch.zeros(1, 5, 16)))


def test_photomaker_fuses_the_class_token(tmp_path) -> None:
    encoder = load_photomaker(write_photomaker(tmp_path / "pm.safetensors", seed=1))
    sd = random_photomaker_state(seed=1)
    vision, proj2, embed = photomaker_layout()
    ref = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=1, image_size=224,
        patch_size=14, projection_dim=32, hidden_act=vision.hidden_act)).eval()
    ref.load_state_dict({k: v for k, v in sd.items() if k.startswith(("vision_model.", "visual_projection."))})
    gen = torch.Generator().manual_seed(3)
    pixels, prompt = torch.randn(2, 3, 224, 224, generator=gen), torch.randn(1, 77, embed, generator=gen)
    mask = torch.zeros(1, 77, dtype=torch.bool)
    mask[0, 4] = True
    with torch.no_grad():
        out = encoder(pixels, prompt, mask)
        pooled = ref(pixel_values=pixels[:1]).image_embeds, ref.vision_model(pixel_values=pixels[:1]).pooler_output
    identity = torch.cat([pooled[0], F.linear(pooled[1], sd["visual_projection_2.weight"])], dim=-1)

    def mlp(x, p, residual):
        h = F.layer_norm(x, x.shape[-1:], sd[p + "layernorm.weight"], sd[p + "layernorm.bias"])
        h = F.linear(F.gelu(F.linear(h, sd[p + "fc1.weight"], sd[p + "fc1.bias"])), sd[p + "fc2.weight"], sd[p + "fc2.bias"])
        return h + x if residual else h

    token = prompt[:, 4]
    fused = mlp(torch.cat([token, identity], -1), "fuse_module.mlp1.", False) + token
    fused = F.layer_norm(mlp(fused, "fuse_module.mlp2.", True), (embed,), sd["fuse_module.layer_norm.weight"],
                         sd["fuse_module.layer_norm.bias"])
    torch.testing.assert_close(out[:, 4], fused, rtol=1e-5, atol=1e-5)
    keep = torch.ones(77, dtype=torch.bool)
    keep[4] = False
    assert torch.equal(out[:, keep], prompt[:, keep])


def test_wrong_style_and_photomaker_files(tmp_path) -> None:
    path = write_photomaker(tmp_path / "pm.safetensors")
    with pytest.raises(CheckpointError, match=r"pm\.safetensors: expected a T2I-Adapter style model"):
        load_style_model(path)
    style = write_style_model(tmp_path / "style.safetensors")
    with pytest.raises(CheckpointError, match=r"style\.safetensors: expected a PhotoMaker ID encoder"):
        load_photomaker(style)
