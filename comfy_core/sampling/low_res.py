"""The low-resolution image input of Stability's SD 2.x x4 upscaler (LDM's latent upscaling
diffusion; the model family `sd_x4_upscaler`).

Every UNet call takes, after the noisy latent on the channel axis, the low-resolution RGB
image in -1..1 at the latent's size (set on the conditioning by SD_4XUpscale_Conditioning as
`concat_image`), and the image's noise level as the UNet's class label. Before sampling the
image may be noise-augmented (`noise_augmentation` 0..1 on the conditioning): the forward
diffusion of the image to level t = round(350 · augmentation) on the model's own 1000-step
"linear" schedule (β from 1e-4 to 2e-2, sqrt-spaced),

    z = √ᾱ_t · image + √(1 − ᾱ_t) · ε,

with ε a float32 CPU draw of the image's shape seeded with the sampler seed minus 10 (the
rule ComfyUI follows; every entry draws the same noise). At augmentation 0 the image is
used as given and the label is 0. Each entry's image is resized to the latent (bilinear
after a centered crop to its aspect) and repeated to the batch; an entry without one gets
zeros.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import torch

from comfy_core.images.resize import upscale
from comfy_core.sampling.conditioning import ResolvedCond
from comfy_core.sampling.model_sampling import linear_betas

MAX_NOISE_LEVEL = 350
SEED_OFFSET = -10
LINEAR_START, LINEAR_END, TIMESTEPS = 1e-4, 2e-2, 1000
IMAGE_CHANNELS = 3
CONCAT_IMAGE_KEY = "concat_image"


class LowResNoiseAugmentor:
    """Forward diffusion of the low-resolution image to a noise level (ComfyUI's
    `ImageConcatWithNoiseAugmentation` with the x4 upscaler's settings)."""

    def __init__(self, max_noise_level: int = MAX_NOISE_LEVEL, linear_start: float = LINEAR_START,
                 linear_end: float = LINEAR_END, timesteps: int = TIMESTEPS) -> None:
        self.max_noise_level = max_noise_level
        alphas_cumprod = torch.cumprod(1.0 - linear_betas(timesteps, linear_start, linear_end), dim=0)
        self.sqrt_alphas_cumprod = alphas_cumprod.sqrt().float()  # float64 maths, stored float32
        self.sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt().float()

    def level(self, augmentation: float) -> int:
        """The noise level (class label) of an augmentation fraction: 0 -> 0, 1 -> 350."""
        return round(self.max_noise_level * augmentation)

    def __call__(self, image: torch.Tensor, level: int, seed: int | None = None,
                 noise: torch.Tensor | None = None) -> torch.Tensor:
        """`image` [B, 3, h, w] diffused to `level`; the noise is drawn from `seed` (fresh
        randomness when None) unless given."""
        if noise is None:
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            noise = torch.randn(image.shape, dtype=image.dtype, generator=gen)
        noise = noise.to(image.device, image.dtype)
        return self.sqrt_alphas_cumprod[level] * image + self.sqrt_one_minus_alphas_cumprod[level] * noise


def _to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    """Repeat or cut dim 0 to `batch` rows."""
    if t.shape[0] < batch:
        t = t.repeat([-(-batch // t.shape[0])] + [1] * (t.ndim - 1))
    return t[:batch]


def low_res_inputs(options: Mapping[str, Any], latent_shape: Sequence[int], augmentor: LowResNoiseAugmentor,
                   seed: int | None, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(concat channels [B, 3, h, w], class label [1] int64) of one conditioning entry's
    options for a latent of `latent_shape` [B, C, h, w], the sampler's `seed` given."""
    batch, height, width = int(latent_shape[0]), int(latent_shape[-2]), int(latent_shape[-1])
    augmentation = float(options.get("noise_augmentation", 0.0))
    level = augmentor.level(augmentation)
    image = options.get(CONCAT_IMAGE_KEY)
    if image is None:
        image = torch.zeros((batch, IMAGE_CHANNELS, height, width))
    else:
        if image.ndim != 4 or image.shape[1] != IMAGE_CHANNELS:
            raise ValueError(f"'{CONCAT_IMAGE_KEY}' must be an image batch [B, 3, H, W], got {tuple(image.shape)}")
        image = upscale(image.float(), width, height, "bilinear", "center")
    if augmentation > 0:
        image = augmentor(image, level, None if seed is None else seed + SEED_OFFSET)
    image = _to_batch(image, batch)
    label = torch.tensor([level], dtype=torch.int64)
    return (image, label) if device is None else (image.to(device), label.to(device))


def check_low_res_conditioning(model_name: str, takes_low_res: bool, options: Sequence[Mapping[str, Any]]) -> None:
    """Refuse SD_4XUpscale_Conditioning's output for any other model: it would sample a
    latent a quarter of the wanted size with the image silently dropped."""
    if takes_low_res or not any(o.get(CONCAT_IMAGE_KEY) is not None for o in options):
        return
    raise ValueError(
        f"this conditioning carries '{CONCAT_IMAGE_KEY}' (from SD_4XUpscale_Conditioning), which only the SD 2.x "
        f"x4 upscaler takes (a UNet with 7 input channels, 4 latent + 3 image, and a noise-level class embedding, "
        f"e.g. x4-upscaler-ema.safetensors); the model is a {model_name} model")


def with_low_res_image(family: Any, augmentor: LowResNoiseAugmentor | None, conds: dict[str, list[ResolvedCond]],
                       latent_shape: Sequence[int], seed: int | None,
                       device: torch.device | str | None = None) -> dict[str, list[ResolvedCond]]:
    """For the x4 upscaler (`family.low_res_concat`), every resolved entry with its image
    channels as `concat` and its noise level as `y`; other families get `conds` back, after
    refusing conditioning meant for the upscaler."""
    check_low_res_conditioning(family.name, family.low_res_concat,
                               [c.options for entries in conds.values() for c in entries])
    if not family.low_res_concat:
        return conds
    augmentor = augmentor or LowResNoiseAugmentor()
    out: dict[str, list[ResolvedCond]] = {}
    for name, entries in conds.items():
        out[name] = []
        for c in entries:
            image, label = low_res_inputs(c.options, latent_shape, augmentor, seed, device)
            out[name].append(dataclasses.replace(c, concat=image, y=label))
    return out
