"""Batch tools for IMAGE (`[B, H, W, C]`) and MASK (`[B, H, W]`): join several into one
batch, take or repeat a slice, regroup a list of batches, seeded noise.

Joining follows the first input: others are resized bilinearly (center crop to its aspect)
and a missing alpha channel is added as opaque.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images.resize import upscale


def batch_images(images: list[torch.Tensor]) -> torch.Tensor:
    """BatchImagesNode: one batch in the size and channel count of the first image."""
    if not images:
        raise ValueError("no images to batch")
    channels = max(image.shape[-1] for image in images)
    first = images[0]
    if first.shape[-1] < channels:
        first = F.pad(first, (0, channels - first.shape[-1]), value=1.0)
    out = []
    for image in images:
        if image.shape[-1] < channels:
            image = F.pad(image, (0, channels - image.shape[-1]), value=1.0)
        if image.shape[1:] != first.shape[1:]:
            image = upscale(image.movedim(-1, 1), first.shape[2], first.shape[1], "bilinear",
                            "center").movedim(1, -1)
        out.append(image)
    return torch.cat(out, dim=0)


def batch_masks(masks: list[torch.Tensor]) -> torch.Tensor:
    """BatchMasksNode: one batch in the size of the first mask."""
    if not masks:
        raise ValueError("no masks to batch")
    masks = [m.reshape((-1, m.shape[-2], m.shape[-1])) for m in masks]
    height, width = masks[0].shape[1:]
    out = [m if m.shape[1:] == (height, width)
           else upscale(m[:, None], width, height, "bilinear", "center")[:, 0] for m in masks]
    return torch.cat(out, dim=0)


def from_batch(image: torch.Tensor, batch_index: int, length: int) -> torch.Tensor:
    """ImageFromBatch: `length` images from `batch_index`, both clamped to the batch."""
    start = min(image.shape[0] - 1, batch_index)
    length = min(image.shape[0] - start, length)
    return image[start:start + length].clone()


def repeat_batch(image: torch.Tensor, amount: int) -> torch.Tensor:
    """RepeatImageBatch: the whole batch `amount` times."""
    return image.repeat((amount,) + (1,) * (image.ndim - 1))


def add_noise(image: torch.Tensor, seed: int, strength: float) -> torch.Tensor:
    """ImageAddNoise: `image + strength * N(0, 1)` from a CPU generator seeded with `seed`
    (the same draw on every device), clamped to 0..1."""
    generator = torch.Generator("cpu").manual_seed(seed)
    noise = torch.randn(image.size(), generator=generator, device="cpu").to(image)
    return torch.clip(image + strength * noise, 0.0, 1.0)


def rebatch_images(images: list[torch.Tensor], batch_size: int) -> list[torch.Tensor]:
    """RebatchImages: every image of a list of batches, regrouped `batch_size` at a time."""
    singles = [image[i:i + 1] for image in images for i in range(image.shape[0])]
    return [torch.cat(singles[i:i + batch_size], dim=0)
            for i in range(0, len(singles), batch_size)]
