"""The UNet against diffusers' UNet2DConditionModel on the same (converted) weights."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

from comfy_core.models.family import UNetConfig
from comfy_core.models.unet import UNetModel

SD1_TINY = UNetConfig(
    model_channels=32,
    channel_mult=(1, 2),
    num_res_blocks=(1, 1),
    transformer_depth=(1, 1),
    transformer_depth_output=(1, 1, 1, 1),
    transformer_depth_middle=1,
    context_dim=24,
    num_heads=8,
)

SDXL_TINY = UNetConfig(
    model_channels=32,
    channel_mult=(1, 2),
    num_res_blocks=(2, 2),
    transformer_depth=(0, 0, 2, 2),
    transformer_depth_output=(2, 2, 2, 0, 0, 0),
    transformer_depth_middle=2,
    context_dim=40,
    num_heads=-1,
    num_head_channels=16,
    use_linear_in_transformer=True,
    adm_in_channels=48,
)


def diffusers_config(cfg: UNetConfig, heads: tuple[int, ...]) -> dict:
    levels = range(len(cfg.channel_mult))
    attn = [cfg.transformer_depth[sum(cfg.num_res_blocks[:lv])] > 0 for lv in levels]
    depth = [max(cfg.transformer_depth[sum(cfg.num_res_blocks[:lv])], 1) for lv in levels]
    out = dict(
        in_channels=cfg.in_channels,
        out_channels=cfg.out_channels,
        block_out_channels=[cfg.model_channels * m for m in cfg.channel_mult],
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
        layers_per_block=cfg.num_res_blocks[0],
        cross_attention_dim=cfg.context_dim,
        attention_head_dim=list(heads),
        use_linear_projection=cfg.use_linear_in_transformer,
        transformer_layers_per_block=depth,
        norm_num_groups=32,
    )
    if cfg.adm_in_channels is not None:
        out.update(class_embed_type="projection", projection_class_embeddings_input_dim=cfg.adm_in_channels)
    return out


@pytest.mark.parametrize("cfg,heads", [(SD1_TINY, (8, 8)), (SDXL_TINY, (2, 4))], ids=["sd1", "sdxl"])
def test_unet_matches_diffusers(cfg: UNetConfig, heads: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    ours = UNetModel(cfg).eval()
    with torch.no_grad():
        for p in ours.parameters():  # non-trivial norms and biases too
            p.add_(torch.randn_like(p) * 0.05)
    ldm = {"model.diffusion_model." + k: v for k, v in ours.state_dict().items()}
    dcfg = diffusers_config(cfg, heads)
    ref = UNet2DConditionModel(**dcfg).eval()
    missing, unexpected = ref.load_state_dict(convert_ldm_unet_checkpoint(ldm, dcfg), strict=False)
    assert not missing and not unexpected
    x = torch.randn(2, 4, 16, 24)
    t = torch.tensor([10.0, 900.0])
    ctx = torch.randn(2, 7, cfg.context_dim)
    y = torch.randn(2, cfg.adm_in_channels) if cfg.adm_in_channels else None
    with torch.no_grad():
        a = ours(x, t, ctx, y)
        b = ref(x, t, encoder_hidden_states=ctx, class_labels=y).sample
    assert a.shape == (2, 4, 16, 24)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_unet_odd_latent_size_keeps_shape() -> None:
    torch.manual_seed(0)
    net = UNetModel(SD1_TINY).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 4, 9, 11), torch.tensor([5.0]), torch.randn(1, 77, 24))
    assert out.shape == (1, 4, 9, 11)


def test_sdxl_unet_requires_adm_vector() -> None:
    net = UNetModel(SDXL_TINY).eval()
    with pytest.raises(ValueError, match="ADM"):
        net(torch.randn(1, 4, 8, 8), torch.tensor([1.0]), torch.randn(1, 77, 40))


@pytest.mark.parametrize("cfg", [SD1_TINY, SDXL_TINY])
def test_every_convolution_gets_an_nchw_contiguous_input(cfg: UNetConfig) -> None:
    """A channels-last activation (e.g. a transposed view out of attention) makes each
    later convolution re-layout its weights on every call: a per-step copy of the model."""
    torch.manual_seed(0)
    net = UNetModel(cfg).eval()
    layouts: list[tuple[str, bool]] = []
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_pre_hook(lambda m, args, name=name: layouts.append((name, args[0].is_contiguous())))
    y = torch.randn(2, cfg.adm_in_channels) if cfg.adm_in_channels else None
    with torch.no_grad():
        net(torch.randn(2, 4, 16, 16), torch.tensor([5.0, 5.0]), torch.randn(2, 77, cfg.context_dim), y)
    assert len(layouts) > 10 and [name for name, ok in layouts if not ok] == []
