"""Training loops of the demo model: the KL autoencoder first, then the text-conditioned
UNet jointly with a small CLIP text encoder trained from scratch.

The UNet learns ε-prediction on the SD1 discrete schedule (Ho et al. 2020; linear-in-√β
betas, COMPAT 9.3), with the caption replaced by the empty prompt at a set rate so one
network gives both the conditional and unconditional prediction that classifier-free
guidance mixes (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.models.clip import ClipConfig, TextEncoder
from comfy_core.models.family import SD15, UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.models.vae import AutoencoderKL, VAEConfig
from comfy_core.sampling.model_sampling import ModelSampling, SamplingConfig
from comfy_core.text.prompt import tokenize_prompt
from comfy_core.text.tokenizer import ClipTokenizer
from comfy_core.tools.demo.scenes import Scene, caption

# Called after every optimiser step with (step, loss).
Progress = Callable[[int, float], None]

VAE_CONFIG = VAEConfig(ch=32, ch_mult=(1, 1, 2, 2), num_res_blocks=1)
# SD1 layout (conv proj_in, no ADM); attention only at the 4x4 level and the middle block,
# where it is cheap on the CPU; 8 heads as in every SD1 UNet.
UNET_CONFIG = UNetConfig(
    model_channels=64, channel_mult=(1, 1), num_res_blocks=(1, 1), transformer_depth=(0, 1),
    transformer_depth_output=(1, 1, 0, 0), transformer_depth_middle=1, context_dim=32,
    num_heads=SD15.unet.num_heads,
)
# Heads = hidden // 64 (at least 1) and quick_gelu: what the loader assumes for SD1 clip_l.
CLIP_CONFIG = ClipConfig(hidden_size=32, intermediate_size=128, num_layers=2, num_heads=1)
SCALE_FACTOR = SD15.latent.scale_factor


@dataclass(frozen=True)
class TrainConfig:
    """Every number that decides the trained weights."""

    seed: int = 0
    scenes: int = 8192
    # Whole images only: with 32 channels every GroupNorm has one channel per group, so a
    # crop of flat colour normalises to zero and its colour cannot be encoded.
    vae_steps: int = 1400
    vae_batch: int = 8
    vae_lr: float = 1e-3
    kl_weight: float = 1e-5
    unet_steps: int = 3600
    unet_batch: int = 64
    unet_lr: float = 1e-3
    warmup: int = 100
    ema_decay: float = 0.999
    uncond_prob: float = 0.1


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


@torch.no_grad()
def reconstruction_error(vae: AutoencoderKL, images: torch.Tensor) -> float:
    """Mean absolute error of decode(encode(x)) on [-1, 1] pixels."""
    return float((vae.decode(vae.encode(images)).clamp(-1, 1) - images).abs().mean())


def vae_loss(vae: AutoencoderKL, x: torch.Tensor, kl_weight: float, gen: torch.Generator) -> torch.Tensor:
    """L1 + L2 reconstruction of a posterior sample plus a small KL to N(0, I)."""
    mean, logvar = vae.quant_conv(vae.encoder(x)).chunk(2, dim=1)  # (B, 4, h, w) each
    logvar = logvar.clamp(-30.0, 20.0)
    z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=gen)
    rec = vae.decode(z)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    return (rec - x).abs().mean() + (rec - x).pow(2).mean() + kl_weight * kl


def train_vae(images: torch.Tensor, cfg: TrainConfig, progress: Progress) -> AutoencoderKL:
    """Fit the autoencoder to `images` (N, 3, 64, 64) in [-1, 1]."""
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    vae = AutoencoderKL(VAE_CONFIG)
    with torch.no_grad():  # start with a narrow posterior: sampling noise of std 1 swamps early training
        vae.quant_conv.bias[VAE_CONFIG.embed_dim :] = -8.0
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    for step in range(cfg.vae_steps):
        _set_lr(opt, lr_at(step, cfg.vae_steps, cfg.vae_lr, cfg.warmup))
        batch = images[torch.randint(len(images), (cfg.vae_batch,), generator=gen)]
        loss = vae_loss(vae, batch, cfg.kl_weight, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        progress(step, float(loss.detach()))
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def encode_all(vae: AutoencoderKL, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Posterior means (N, 4, 8, 8) of `images`."""
    return torch.cat([vae.encode(images[i : i + batch]) for i in range(0, len(images), batch)])


@torch.no_grad()
def normalise_latent_scale(vae: AutoencoderKL, latents: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Rescale the latent space so `latent * 0.18215` has unit std, as the SD1 family
    assumes: the mean half of quant_conv is multiplied by k and post_quant_conv divides
    its input by k, so decode(encode(x)) is unchanged. Returns (rescaled latents, k)."""
    k = 1.0 / (SCALE_FACTOR * float(latents.std()))
    z = vae.config.embed_dim
    vae.quant_conv.weight[:z] *= k
    vae.quant_conv.bias[:z] *= k
    vae.quant_conv.bias[z:] += 2.0 * math.log(k)  # log-variance follows the mean's scale
    vae.post_quant_conv.weight /= k
    return latents * k, k


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.lerp_(p, 1.0 - decay)


def _token_batch(texts: Sequence[str], tokenizer: ClipTokenizer, cache: dict[str, tuple[int, ...]]) -> torch.Tensor:
    """(B, 77) token ids exactly as CLIPTextEncode makes them (one chunk per caption)."""
    for text in texts:
        if text not in cache:
            cache[text] = tokenize_prompt(text, tokenizer).ids[0]
    return torch.tensor([cache[t] for t in texts], dtype=torch.long)


def diffusion_loss(unet: UNetModel, clip: TextEncoder, x0: torch.Tensor, ids: torch.Tensor,
                   sigmas: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """ε-prediction MSE at uniform integer timesteps. The network input is (x0 + σ·ε)·c_in
    with c_in = 1/√(σ²+1), which equals the DDPM x_t = √ᾱ·x0 + √(1−ᾱ)·ε (COMPAT 9.3)."""
    context, _ = clip.encode_tokens(ids)  # (B, 77, 32): last layer + final LayerNorm, as SD1
    t = torch.randint(len(sigmas), (x0.shape[0],), generator=gen)
    sigma = sigmas[t][:, None, None, None]  # (B, 1, 1, 1)
    noise = torch.randn(x0.shape, generator=gen)
    x_in = (x0 + sigma * noise) / torch.sqrt(sigma * sigma + 1.0)
    return F.mse_loss(unet(x_in, t.float(), context), noise)


def initial_text_encoder() -> TextEncoder:
    """A text encoder with transformers' CLIP initialisation: the scheme and random draws
    (from torch's global generator, after the UNet's) the committed demo model started from."""
    from transformers import CLIPTextConfig, CLIPTextModel

    c = CLIP_CONFIG
    hf = CLIPTextModel(CLIPTextConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_layers, num_attention_heads=c.num_heads, max_position_embeddings=c.max_positions,
        hidden_act=c.hidden_act, projection_dim=c.hidden_size, layer_norm_eps=1e-5))
    with torch.device("meta"):
        clip = TextEncoder(c)
    # transformers 4.x nests the transformer under `.text_model`; 5.x is the transformer.
    clip.text_model.load_state_dict(getattr(hf, "text_model", hf).state_dict(), assign=True)
    return clip


def train_unet(latents: torch.Tensor, scenes: Sequence[Scene], cfg: TrainConfig,
               progress: Progress) -> tuple[UNetModel, TextEncoder]:
    """Train UNet and text encoder together on `latents` (N, 4, 8, 8), already multiplied by
    the scale factor; returns their exponential moving averages."""
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    unet, clip = UNetModel(UNET_CONFIG), initial_text_encoder()
    ema_unet, ema_clip = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(clip).requires_grad_(False)
    params = list(unet.parameters()) + list(clip.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.unet_lr, weight_decay=0.0)
    sigmas = ModelSampling(SamplingConfig()).sigmas  # (1000,) the SD1 table
    tokenizer, cache = ClipTokenizer(), {}
    for step in range(cfg.unet_steps):
        _set_lr(opt, lr_at(step, cfg.unet_steps, cfg.unet_lr, cfg.warmup))
        idx = torch.randint(len(latents), (cfg.unet_batch,), generator=gen)
        drop = torch.rand(cfg.unet_batch, generator=gen) < cfg.uncond_prob
        texts = ["" if d else caption(scenes[int(i)], gen) for i, d in zip(idx, drop)]
        loss = diffusion_loss(unet, clip, latents[idx], _token_batch(texts, tokenizer, cache), sigmas, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        _ema_update(ema_unet, unet, decay)
        _ema_update(ema_clip, clip, decay)
        progress(step, float(loss.detach()))
    return ema_unet.eval(), ema_clip.eval()
