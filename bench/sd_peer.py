"""The reference peer in the SD benchmark: diffusers' StableDiffusion(XL)Pipeline on the
same checkpoint file, converted with diffusers' own single-file key converters.

No config can be downloaded, so the UNet, VAE and text-encoder configs are derived from
the family our loader detects (same architecture, same weights); the text encoders are
transformers' CLIPTextModel(WithProjection), the way diffusers pipelines hold them. In the
timed runs the pipeline gets the prompt embeddings our encoders produced (identical inputs);
a cold process encodes with its own encoders (token ids from our tokenizer). Sampling runs
the pipeline's own loop (EulerDiscreteScheduler, batched CFG).
"""

from __future__ import annotations

import gc
from typing import Any

import torch
import diffusers
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline,
                       StableDiffusionXLPipeline, UNet2DConditionModel)
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

from sd_common import Workload, sync

from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import clip_config
from comfy_core.loading.detect import detect_family, vae_config
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.family import ModelFamily

diffusers.utils.logging.set_verbosity_error()


def unet_config(family: ModelFamily) -> dict[str, Any]:
    """UNet2DConditionModel arguments for our family's UNet (SD1/SD2/SDXL layouts)."""
    cfg = family.unet
    levels = range(len(cfg.channel_mult))
    starts = [sum(cfg.num_res_blocks[:lv]) for lv in levels]
    attn = [cfg.transformer_depth[s] > 0 for s in starts]
    channels = [cfg.model_channels * m for m in cfg.channel_mult]
    out: dict[str, Any] = dict(
        sample_size=64, in_channels=cfg.in_channels, out_channels=cfg.out_channels,
        block_out_channels=channels, layers_per_block=cfg.num_res_blocks[0],
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attn],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)],
        cross_attention_dim=cfg.context_dim, use_linear_projection=cfg.use_linear_in_transformer,
        attention_head_dim=[cfg.heads_for(c)[0] for c in channels],
        transformer_layers_per_block=[max(cfg.transformer_depth[s], 1) for s in starts],
        norm_num_groups=32,
    )
    if cfg.adm_in_channels is not None:  # SDXL: pooled text + 6 size/crop numbers of 256 each
        out.update(addition_embed_type="text_time", addition_time_embed_dim=256,
                   projection_class_embeddings_input_dim=cfg.adm_in_channels, sample_size=128)
    return out


def vae_diffusers_config(state: dict[str, torch.Tensor], scale: float) -> dict[str, Any]:
    cfg = vae_config(km.strip_prefix(state, km.VAE_PREFIX))
    n = len(cfg.ch_mult)
    return dict(in_channels=3, out_channels=3, latent_channels=cfg.z_channels,
                block_out_channels=[cfg.ch * m for m in cfg.ch_mult], layers_per_block=cfg.num_res_blocks,
                down_block_types=["DownEncoderBlock2D"] * n, up_block_types=["UpDecoderBlock2D"] * n,
                scaling_factor=scale, norm_num_groups=32)


def _text_encoders(state: dict[str, torch.Tensor], family: ModelFamily, device: str, dtype: torch.dtype) -> list:
    """transformers CLIP text models for the family's encoders, in order (clip_l, then clip_g)."""
    prefixes = ([km.SDXL_CLIP_L_PREFIX, km.SDXL_CLIP_G_PREFIX] if family.adm == "sdxl"
                else [km.CLIP_L_PREFIX if family.text_encoders[0].name == "clip_l" else km.CLIP_H_PREFIX])
    out = []
    for prefix, spec in zip(prefixes, family.text_encoders):
        part = km.strip_prefix(state, prefix)
        hf = km.openclip_to_hf(part) if km.is_openclip(part) else km.clip_to_hf(part)
        c = clip_config(hf, spec)
        config = CLIPTextConfig(vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_layers,
                                intermediate_size=c.intermediate_size, num_attention_heads=c.num_heads,
                                max_position_embeddings=c.max_positions, hidden_act=c.hidden_act,
                                projection_dim=c.projection_dim or c.hidden_size)
        cls = CLIPTextModelWithProjection if c.projection_dim else CLIPTextModel
        with torch.device("meta"):
            model = cls(config)
        nested = any(k.startswith("text_model.") for k in model.state_dict())  # varies by class
        weights = {(k if nested else k.removeprefix("text_model.")): v.to(dtype) for k, v in hf.items()}
        model.load_state_dict(weights, strict=True, assign=True)
        _embeddings(model).position_ids = torch.arange(c.max_positions).expand(1, -1)
        out.append(model.to(device).eval().requires_grad_(False))
    return out


def _embeddings(model: torch.nn.Module) -> torch.nn.Module:
    """The embeddings module, whose non-persistent position ids a meta build leaves empty."""
    return next(m for m in model.modules() if hasattr(m, "position_embedding"))


def _build(cls: type, config: dict, weights: dict[str, torch.Tensor], device: str, dtype: torch.dtype) -> Any:
    """Construct without random init (meta), take the converted weights, move once."""
    with torch.device("meta"):
        module = cls(**config)
    module.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=True, assign=True)
    return module.to(device).eval().requires_grad_(False)


class Diffusers:
    name = "diffusers"

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.pipe: Any = None
        self.encoders: list = []
        self.cond: dict[str, torch.Tensor] = {}

    def load(self) -> None:
        w = self.w
        state = load_state_dict(w.checkpoint)
        prefix = km.unet_prefix(list(state))
        family = detect_family(km.strip_prefix(state, prefix), set(state))
        ucfg = unet_config(family)
        unet = _build(UNet2DConditionModel, ucfg, convert_ldm_unet_checkpoint(state, ucfg), w.device, w.dtype)
        vcfg = vae_diffusers_config(state, family.latent.scale_factor)
        vae = _build(AutoencoderKL, vcfg, convert_ldm_vae_checkpoint(state, vcfg), w.device, w.dtype)
        self.encoders = _text_encoders(state, family, w.device, w.dtype)
        del state
        scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                           timestep_spacing="linspace", steps_offset=1, num_train_timesteps=1000)
        if family.adm is not None:
            self.pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=None, text_encoder_2=None, tokenizer=None,
                                                  tokenizer_2=None, unet=unet, scheduler=scheduler)
        else:
            self.pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet,
                                                scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                                requires_safety_checker=False)
        self.pipe.set_progress_bar_config(disable=True)
        if w.compile:  # diffusers' documented recipe: compiled UNet, CUDA graphs on CUDA
            mode = "reduce-overhead" if w.device.startswith("cuda") else "default"
            self.pipe.unet = torch.compile(self.pipe.unet, mode=mode, fullgraph=True)
        sync(w.device)

    def encode(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Prompt embeddings as diffusers pipelines compute them: SD1 the last hidden state;
        SDXL both encoders' penultimate states side by side and clip_g's projected pool."""
        ids = ids.to(self.w.device)
        with torch.no_grad():
            if len(self.encoders) == 1:
                return {"cond": self.encoders[0](ids).last_hidden_state}
            outs = [e(ids, output_hidden_states=True) for e in self.encoders]
            return {"cond": torch.cat([o.hidden_states[-2] for o in outs], dim=-1), "pooled": outs[-1].text_embeds}

    def set_conditioning(self, cond: dict[str, torch.Tensor]) -> None:
        self.cond = {k: v.to(self.w.device, self.w.dtype) for k, v in cond.items()}

    def sample(self, batch: int) -> torch.Tensor:
        w, c = self.w, self.cond
        kwargs: dict[str, Any] = dict(prompt_embeds=c["cond"], negative_prompt_embeds=c["uncond"])
        if "pooled" in c:
            kwargs.update(pooled_prompt_embeds=c["pooled"], negative_pooled_prompt_embeds=c["upooled"])
        generator = torch.Generator("cpu").manual_seed(w.seed)
        with torch.no_grad():
            return self.pipe(height=w.size, width=w.size, num_inference_steps=w.steps, guidance_scale=w.cfg,
                             num_images_per_prompt=batch, generator=generator, output_type="latent",
                             **kwargs).images

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.pipe.vae
        with torch.no_grad():
            image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
        return ((image.float() + 1) / 2).clamp(0, 1).movedim(1, -1).cpu()  # (B, H, W, 3) like ours

    def unload(self) -> None:
        self.pipe = None
        self.encoders = []
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
