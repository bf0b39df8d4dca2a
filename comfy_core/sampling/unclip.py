"""The unCLIP image-embedding input (Ramesh et al. 2022; Stable unCLIP, SD 2.1): CLIP image
embeddings, noise-augmented, become the UNet's ADM vector `y`.

Noise augmentation as the Stable unCLIP code (and ComfyUI's `CLIPEmbeddingNoiseAugmentation`)
does it: the embedding goes through the forward diffusion of a 1000-step squared-cosine
schedule (Nichol & Dhariwal 2021, capped at β 0.999) to `noise_level`, and the level's
sinusoidal embedding ([cos | sin], as the UNet's timestep embedding) is appended:
`y = [√ᾱ_t·e + √(1−ᾱ_t)·ε, emb(t)]`. The normalising statistics are 0 and 1, as ComfyUI
loads them. Several unCLIP inputs are summed (each times its strength) and the sum is
augmented once more at the merge level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from comfy_core.sampling.embedding import timestep_embedding

TIMESTEPS = 1000
MAX_NOISE_LEVEL = 1000
DEFAULT_MERGE_AUGMENTATION = 0.05
SEED_OFFSET = -10  # the sampler seed minus 10 seeds the augmentation noise (ComfyUI's rule)
SDXL_LEVEL_WIDTH = 1280  # SDXL's augmentor embeds the level 1280 wide (then cut off)


def squaredcos_alphas_cumprod(steps: int = TIMESTEPS, max_beta: float = 0.999) -> torch.Tensor:
    """ᾱ_t of the squared-cosine schedule, float64 (rounded to float32 only at use)."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    return torch.cumprod(1.0 - torch.tensor(betas, dtype=torch.float64), dim=0)


@dataclass(frozen=True)
class UnclipInput:
    """One unCLIPConditioning entry: image embeddings (N, E), strength, augmentation 0..1."""

    image_embeds: torch.Tensor
    strength: float
    noise_augmentation: float


class NoiseAugmentor:
    """Forward diffusion of image embeddings plus the noise level's embedding."""

    def __init__(self, embed_dim: int) -> None:
        self.embed_dim = embed_dim  # width of the level's embedding
        ac = squaredcos_alphas_cumprod()
        self.sqrt_alphas_cumprod = ac.sqrt().float()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - ac).sqrt().float()

    @staticmethod
    def level(augmentation: float) -> int:
        """Noise level of an augmentation fraction (0 -> 0, 1 -> 999)."""
        return round((MAX_NOISE_LEVEL - 1) * augmentation)

    def __call__(self, x: torch.Tensor, level: int, seed: int | None = None,
                 noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, E) -> (noised x (N, E), level embedding (1, embed_dim)). The noise is a
        float32 CPU draw from `seed` (fresh randomness when None) unless given."""
        if noise is None:
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            noise = torch.randn(x.shape, dtype=x.dtype, generator=gen)
        noise = noise.to(x.device, x.dtype)
        z = self.sqrt_alphas_cumprod[level] * x + self.sqrt_one_minus_alphas_cumprod[level] * noise
        emb = timestep_embedding([level], self.embed_dim)
        return z, emb.to(x.device, x.dtype)


def unclip_adm(inputs: Sequence[UnclipInput], augmentor: NoiseAugmentor, seed: int | None,
               merge_augmentation: float = DEFAULT_MERGE_AUGMENTATION) -> torch.Tensor:
    """The ADM vector (N, E + embed_dim) of unCLIP inputs: each image embedding augmented
    with noise drawn from `seed` and weighted by its strength; with more than one, their sum
    is augmented again at `merge_augmentation`, with the draw that follows the seeded one
    (ComfyUI reseeds the global generator per input and lets the merge continue it)."""
    parts = []
    for item in inputs:
        level = augmentor.level(item.noise_augmentation)
        for embed in item.image_embeds.float():  # (E,) per image
            z, emb = augmentor(embed[None], level, seed)
            parts.append(torch.cat([z, emb], dim=1) * item.strength)  # (1, E + embed_dim)
    if not parts:
        raise ValueError("unCLIP conditioning without image embeddings")
    if len(parts) == 1:
        return parts[0]
    total = torch.stack(parts).sum(0)
    width = total.shape[1] - augmentor.embed_dim
    noise = None
    if seed is not None:
        gen = torch.Generator().manual_seed(seed)
        torch.randn((1, width), generator=gen)  # the last input's draw
        noise = torch.randn((1, width), generator=gen)
    z, emb = augmentor(total[:, :width], augmentor.level(merge_augmentation), None, noise)
    return torch.cat([z, emb], dim=1)


def unclip_inputs(options: dict) -> list[UnclipInput]:
    """The `unclip_conditioning` entries of a cond's options (unCLIPConditioning's dicts:
    clip_vision_output, strength, noise_augmentation), as typed inputs."""
    out = []
    for item in options.get("unclip_conditioning") or ():
        output = item["clip_vision_output"]
        embeds = output["image_embeds"] if isinstance(output, dict) else output.image_embeds
        out.append(UnclipInput(embeds, float(item["strength"]), float(item["noise_augmentation"])))
    return out


def check_width(inputs: Sequence[UnclipInput], width: int, what: str) -> None:
    for item in inputs:
        if item.image_embeds.shape[-1] != width:
            raise ValueError(f"{what} takes {width}-wide CLIP image embeddings, the CLIP vision output has "
                             f"{item.image_embeds.shape[-1]} (use the CLIP vision model made for it)")


def unclip_model_y(inputs: Sequence[UnclipInput], adm_size: int, seed: int | None,
                   merge_augmentation: float) -> torch.Tensor:
    """SD 2.1 unCLIP's `y` [N, adm_size]: zeros without unCLIP inputs (ComfyUI's rule)."""
    if not inputs:
        return torch.zeros(1, adm_size)
    check_width(inputs, adm_size // 2, "this unCLIP model")
    return unclip_adm(inputs, NoiseAugmentor(adm_size // 2), (seed or 0) + SEED_OFFSET, merge_augmentation)


def unclip_pooled(inputs: Sequence[UnclipInput], width: int, seed: int | None) -> torch.Tensor:
    """SDXL's pooled vector from unCLIP inputs (the image embedding in place of the text's,
    "revision"): the augmented embeddings, level embedding cut off, no merge augmentation."""
    check_width(inputs, width, "SDXL's pooled input")
    return unclip_adm(inputs, NoiseAugmentor(SDXL_LEVEL_WIDTH), (seed or 0) + SEED_OFFSET, 0.0)[:, :width]
