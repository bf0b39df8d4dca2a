"""ControlNet and T2I-Adapter networks against diffusers' ControlNetModel, ControlNetUnionModel
and T2IAdapter on the same weights: random tiny diffusers models are saved in their own
layout, read by our loader (key conversion, config detection) and must give the same
residuals. Union models follow ComfyUI's one-token fusion, checked against diffusers'
modules composed that way (diffusers' own union forward adds the latent as a second token,
and its batch-second attention block, fed batch-first, attends across the batch)."""

from __future__ import annotations

import pytest
import torch
from diffusers import ControlNetModel, ControlNetUnionModel, T2IAdapter

from comfy_core.loading.controlnet import controlnet_from_state
from comfy_core.models.control_nets import ControlNet
from comfy_core.models.controlnet import ControlNetModel as OurControlNet

HINT_CHANNELS = (16, 32, 96, 256)


def randomize(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter random (diffusers zero-initialises the zero convs)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * 0.05
            is_norm_scale = p.ndim == 1 and name.endswith("weight") and ("norm" in name or ".ln_" in name)
            p.copy_(1.0 + noise if is_norm_scale else noise)
    return module.eval()


def sd1_kwargs() -> dict:
    return dict(block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                layers_per_block=1, cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32,
                conditioning_embedding_out_channels=HINT_CHANNELS)


def sdxl_kwargs() -> dict:
    return dict(block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                layers_per_block=2, cross_attention_dim=48, attention_head_dim=(1, 1), norm_num_groups=32,
                transformer_layers_per_block=(1, 2), use_linear_projection=True, addition_embed_type="text_time",
                addition_time_embed_dim=256, projection_class_embeddings_input_dim=16 + 6 * 256,
                conditioning_embedding_out_channels=HINT_CHANNELS)


def _inputs(sdxl: bool, batch: int = 2):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(batch, 4, 8, 12, generator=gen)
    hint = torch.rand(batch, 3, 64, 96, generator=gen)
    t = torch.tensor([15.0, 640.0][:batch])
    ctx = torch.randn(batch, 5, 48 if sdxl else 32, generator=gen)
    added = None
    if sdxl:
        added = {"text_embeds": torch.randn(batch, 16, generator=gen),
                 "time_ids": torch.tensor([[64.0, 96, 0, 0, 64, 96]] * batch)}
    return x, hint, t, ctx, added


def _adm(reference, added) -> torch.Tensor | None:
    """SDXL's y as the UNet takes it: pooled text embedding, then the size embeddings."""
    if added is None:
        return None
    times = reference.add_time_proj(added["time_ids"].flatten()).reshape(added["time_ids"].shape[0], -1)
    return torch.cat([added["text_embeds"], times], dim=-1)


def _ours(state: dict) -> OurControlNet:
    value = controlnet_from_state({k: v.clone() for k, v in state.items()}, "test.safetensors")
    assert isinstance(value, ControlNet)
    return value.control_model


def sd2_kwargs() -> dict:
    return {**sd1_kwargs(), "use_linear_projection": True, "attention_head_dim": (1, 1)}


@pytest.mark.parametrize("family", ["sd15", "sd2", "sdxl"])
def test_controlnet_residuals_equal_diffusers(family):
    sdxl = family == "sdxl"
    kwargs = {"sd15": sd1_kwargs, "sd2": sd2_kwargs, "sdxl": sdxl_kwargs}[family]()
    reference = randomize(ControlNetModel(**kwargs), seed=1)
    ours = _ours(reference.state_dict())
    assert ours.config.family == family
    x, hint, t, ctx, added = _inputs(sdxl)
    with torch.no_grad():
        down, mid = reference(x, t, ctx, controlnet_cond=hint, added_cond_kwargs=added, return_dict=False)
        out = ours(x=x, hint=hint, timesteps=t, context=ctx, y=_adm(reference, added))
    assert len(out["output"]) == len(down) == (4 if not sdxl else 6)
    for a, b in zip(out["output"], down):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out["middle"][0], mid, rtol=1e-4, atol=1e-4)


def _union_reference(reference: ControlNetUnionModel, x, hint, t, ctx, added, control_type: int):
    """ComfyUI's union forward built from diffusers' modules: the control-type embedding is
    added to the time embedding, the hint fused with one token (hint mean + type vector)."""
    plain = ControlNetModel(**sdxl_kwargs())
    plain.load_state_dict({k: v for k, v in reference.state_dict().items() if k in plain.state_dict()})
    one_hot = torch.zeros(1, reference.config.num_control_type)
    one_hot[0, control_type] = 1.0
    type_emb = reference.control_add_embedding(reference.control_type_proj(one_hot.flatten()).reshape(1, -1))
    encoded = reference.controlnet_cond_embedding(hint)
    token = encoded.mean(dim=(2, 3)) + reference.task_embedding[control_type]
    # diffusers' block is sequence-first (nn.MultiheadAttention): one token per sample is (1, B, C).
    fused = encoded + reference.spatial_ch_projs(reference.transformer_layes[0](token.unsqueeze(0))[0])[..., None, None]

    class Fixed(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = value

        def forward(self, *_):
            return self.value

    class PlusType(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, sample, condition=None):
            return self.inner(sample, condition) + type_emb

    plain.controlnet_cond_embedding = Fixed(fused)
    plain.time_embedding = PlusType(plain.time_embedding)
    return plain.eval()(x, t, ctx, controlnet_cond=hint, added_cond_kwargs=added, return_dict=False)


def test_union_controlnet_follows_comfyui_fusion_on_diffusers_modules():
    reference = randomize(ControlNetUnionModel(**sdxl_kwargs(), num_control_type=8, num_trans_channel=32,
                                               num_proj_channel=32), seed=2)
    ours = _ours(reference.state_dict())
    assert ours.is_union and ours.config.union_types == 8
    x, hint, t, ctx, added = _inputs(True)
    y = _adm(reference, added)
    with torch.no_grad():
        down, mid = _union_reference(reference, x, hint, t, ctx, added, control_type=3)
        out = ours(x=x, hint=hint, timesteps=t, context=ctx, y=y, control_type=[3])
        for a, b in zip(out["output"] + out["middle"], list(down) + [mid]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        tokens = torch.randn(2, 3, 32)  # diffusers' ResidualAttentionBlock, sequence-first
        torch.testing.assert_close(ours.transformer_layes[0](tokens),
                                   reference.transformer_layes[0](tokens.transpose(0, 1)).transpose(0, 1),
                                   rtol=1e-5, atol=1e-5)
        auto = ours(x=x, hint=hint, timesteps=t, context=ctx, y=y, control_type=[])
    assert not torch.allclose(auto["middle"][0], out["middle"][0])  # "auto": no fusion, type embedding of zeros


T2I_KINDS = [("full_adapter", 8), ("full_adapter_xl", 16), ("light_adapter", 8)]


@pytest.mark.parametrize("adapter_type,unshuffle", T2I_KINDS, ids=[k for k, _ in T2I_KINDS])
def test_t2i_adapter_features_equal_diffusers(adapter_type, unshuffle):
    # diffusers' light adapter repeats its last width for the fourth level
    channels = (32, 64, 128) if adapter_type == "light_adapter" else (32, 64, 128, 128)
    reference = randomize(T2IAdapter(in_channels=3, channels=channels, num_res_blocks=2,
                                     downscale_factor=unshuffle, adapter_type=adapter_type), seed=3)
    value = controlnet_from_state(dict(reference.state_dict()), "t2i.safetensors")
    assert value.t2i_model.unshuffle_amount == unshuffle and value.channels_in == 3
    assert value.t2i_model.xl == (adapter_type == "full_adapter_xl")
    hint = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours, theirs = value.t2i_model(hint), reference(hint)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
