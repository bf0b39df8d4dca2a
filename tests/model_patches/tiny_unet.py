"""A tiny SD1-layout UNet as a MODEL, the same weights as a diffusers UNet2DConditionModel,
and one guided model evaluation through the real guider (for patch checks against
diffusers' pipelines' guidance math)."""

from __future__ import annotations

import dataclasses

import torch

from comfy_core.loading.checkpoint import model_patcher
from comfy_core.models.family import SD15, UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.sampling.guider import CFGGuider

CONFIG = UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1), transformer_depth=(1, 1),
                    transformer_depth_output=(1, 1, 1, 1), transformer_depth_middle=1, context_dim=24, num_heads=8)
FAMILY = dataclasses.replace(SD15, unet=CONFIG)
HEADS = (8, 8)


def tiny_unet(seed: int = 0) -> UNetModel:
    torch.manual_seed(seed)
    unet = UNetModel(CONFIG).eval()
    with torch.no_grad():  # non-trivial norms and biases
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return unet


def tiny_model(unet: UNetModel):
    """The MODEL value (ModelPatcher over a BaseModel) around `unet`."""
    return model_patcher(unet, FAMILY, torch.device("cpu"), torch.device("cpu"))


def diffusers_twin(unet: UNetModel):
    """diffusers' UNet2DConditionModel with `unet`'s weights."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    from tests.models.test_models_unet import diffusers_config

    ldm = {"model.diffusion_model." + k: v for k, v in unet.state_dict().items()}
    dcfg = diffusers_config(CONFIG, HEADS)
    ref = UNet2DConditionModel(**dcfg).eval()
    missing, unexpected = ref.load_state_dict(convert_ldm_unet_checkpoint(ldm, dcfg), strict=False)
    assert not missing and not unexpected
    return ref


class Probe:
    """A SAMPLER that evaluates the guided model once at a given x and σ."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self.out: torch.Tensor | None = None

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image, denoise_mask=None,
               disable_pbar=False):
        sigma = sigmas[:1].expand(self.x.shape[0])
        self.out = model_wrap(self.x, sigma, model_options=extra_args["model_options"], seed=extra_args.get("seed"))
        return self.out


def guided(model, pos: torch.Tensor, neg: torch.Tensor, cfg: float, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """D(x, σ) of the guider for contexts pos/neg [B, T, D], through every hook of `model`."""
    guider = CFGGuider(model)
    guider.set_conds([[pos, {}]], [[neg, {}]])
    guider.set_cfg(cfg)
    probe = Probe(x)
    zeros = torch.zeros_like(x)
    guider.sample(zeros, zeros, probe, torch.tensor([sigma, 0.0]), seed=0)
    return probe.out
