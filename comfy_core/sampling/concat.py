"""The "concat" conditioning role of inpainting UNets (SD1.5/SD2 inpainting checkpoints,
Rombach et al. 2022, sec. 4.5): every call's input is x (C) followed on the channel axis by
the inpainting mask (1) and the latent of the masked image (C), for cond and uncond alike.
InstructPix2Pix UNets (Brooks et al. 2023) take only the image latent (C) there: the
conditioning's `concat_latent_image` (set by InstructPixToPixConditioning), as the VAE gave
it for SD1.x checkpoints (scaled in for SDXL ones, as ComfyUI does), zeros without one.

Sampling builds the extra channels once per conditioning entry (the entry may carry its own
`concat_latent_image` / `concat_mask`, set by InpaintModelConditioning); the guider crops and
batches them like the cross-attention tokens and appends them after the c_in scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from comfy_core.images.resize import upscale

# Latent of an all-zero (black) image under the SD1/SD2/SDXL VAEs: the masked-image channels
# when nothing says which pixels to keep (the whole image is then masked).
BLANK_INPAINT_LATENT = (0.8223, -0.6876, 0.6364, 0.1380)


@dataclass(frozen=True)
class ConcatSource:
    """What one sampling run builds the concat channels from."""

    latent_image: torch.Tensor  # [B, C, h, w], already scaled in (latent · scale_factor)
    noise_mask: torch.Tensor | None  # [B, C, h, w] the LATENT's noise mask at latent size
    scale_factor: float  # scales a conditioning's concat_latent_image in
    ip2p: bool = False  # InstructPix2Pix: the image latent only (see the module doc)


def _to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    """Repeat or cut dim 0 to `batch` rows."""
    if t.shape[0] < batch:
        t = t.repeat([-(-batch // t.shape[0])] + [1] * (t.ndim - 1))
    return t[:batch]


def _fit(t: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, h, w]: bilinear after a centered crop to the target aspect."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    return upscale(t, int(hw[1]), int(hw[0]), "bilinear", "center")


def blank_inpaint_latent(shape: Sequence[int]) -> torch.Tensor:
    """[B, C, h, w] filled with the latent of a black image, channel by channel."""
    if shape[1] != len(BLANK_INPAINT_LATENT):
        raise ValueError(f"inpainting without a mask needs {len(BLANK_INPAINT_LATENT)}-channel latents, "
                         f"got {shape[1]} channels")
    values = torch.tensor(BLANK_INPAINT_LATENT, dtype=torch.float32).view(1, -1, 1, 1)
    return values.expand(*shape).clone()


def _concat_mask(mask: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Any mask ([H, W], [B, H, W], [B, 1|C, H, W]) -> rounded [B, 1, h, w]."""
    if mask.ndim == 4:
        mask = mask[:, :1]
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    if tuple(mask.shape[-2:]) != tuple(shape[-2:]):
        mask = _fit(mask, shape[-2:])
    return _to_batch(mask.round(), int(shape[0]))


def inpaint_concat(
    source: ConcatSource,
    shape: Sequence[int],
    concat_latent: torch.Tensor | None = None,
    concat_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The [B, 1 + C, h, w] channels appended to x for a latent of `shape` [B, C, h, w].

    mask: `concat_mask` if given, else the noise mask (rounded, at latent size);
    masked image: `concat_latent` (raw VAE latent, scaled in here) if given, else the input
    latent. With neither mask, the mask is ones and the masked image the black-image latent.
    """
    batch = int(shape[0])
    if source.ip2p:
        return ip2p_concat(source, shape, concat_latent)
    image = source.latent_image if concat_latent is None else concat_latent.float() * source.scale_factor
    if tuple(image.shape[1:]) != tuple(shape[1:]):
        image = _fit(image, shape[-2:])
    image = _to_batch(image, batch)
    mask = concat_mask if concat_mask is not None else source.noise_mask
    if mask is None:
        ones = torch.ones((batch, 1, int(shape[2]), int(shape[3])))
        return torch.cat([ones, blank_inpaint_latent(shape)], dim=1)
    mask = _concat_mask(mask, shape).to(image)
    return torch.cat([mask, image], dim=1)



def ip2p_concat(source: ConcatSource, shape: Sequence[int], concat_latent: torch.Tensor | None
                ) -> torch.Tensor:
    """The [B, C, h, w] image-latent channels of an InstructPix2Pix UNet call."""
    if concat_latent is None:
        return torch.zeros(tuple(int(s) for s in shape), device=source.latent_image.device)
    image = concat_latent.float().to(source.latent_image.device) * source.scale_factor
    if tuple(image.shape[1:]) != tuple(shape[1:]):
        image = _fit(image, shape[-2:])
    return _to_batch(image, int(shape[0]))
