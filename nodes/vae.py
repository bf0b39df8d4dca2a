"""VAE nodes: pixels <-> latents, whole or in tiles, and inpainting encodes."""

from __future__ import annotations

from comfy_core.images import masks
from nodes.common import ensure_loaded, oom_recovery

# Working memory per element, as ComfyUI estimates it for SD VAEs (bytes per dtype byte).
_DECODE_BYTES_PER_LATENT_CELL = 2178 * 64
_ENCODE_BYTES_PER_PIXEL = 1767


def _load_for_decode(vae, latent) -> None:
    cells = latent.shape[0] * latent.shape[-2] * latent.shape[-1]
    item = vae.compute_dtype.itemsize
    ensure_loaded([vae], _DECODE_BYTES_PER_LATENT_CELL * cells * item)


def _load_for_encode(vae, pixels) -> None:
    count = pixels.shape[0] * pixels.shape[1] * pixels.shape[2]
    ensure_loaded([vae], _ENCODE_BYTES_PER_PIXEL * count * vae.compute_dtype.itemsize)


class VAEDecode:
    CATEGORY = "latent"
    RETURN_TYPES = ("IMAGE",)
    OUTPUT_TOOLTIPS = ("Decoded image.",)
    FUNCTION = "decode"
    DESCRIPTION = "Turns latents into RGB images with the VAE decoder."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "samples": ("LATENT", {"tooltip": "Latent to decode."}),
            "vae": ("VAE", {"tooltip": "Autoencoder (the VAE output of a loader)."})}}

    def decode(self, vae, samples):
        _load_for_decode(vae, samples["samples"])
        return (vae.decode(samples["samples"], oom_recovery([vae])),)


class VAEEncode:
    CATEGORY = "latent"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",)}}

    def encode(self, vae, pixels):
        _load_for_encode(vae, pixels)
        return ({"samples": vae.encode(pixels, oom_recovery([vae]))},)


def _tile_inputs(step: int, overlap_step: int) -> dict:
    return {
        "tile_size": ("INT", {"default": 512, "min": 64, "max": 4096, "step": step}),
        "overlap": ("INT", {"default": 64, "min": 0, "max": 4096, "step": overlap_step}),
        "temporal_size": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 4,
                                  "tooltip": "Video VAEs only: frames per tile."}),
        "temporal_overlap": ("INT", {"default": 8, "min": 4, "max": 4096, "step": 4,
                                     "tooltip": "Video VAEs only: frames shared by "
                                                "neighbouring tiles."}),
    }


class VAEDecodeTiled:
    CATEGORY = "_for_testing"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        tiles = _tile_inputs(32, 32)
        return {"required": {"samples": ("LATENT",), "vae": ("VAE",), **tiles}}

    def decode(self, vae, samples, tile_size, overlap=64, temporal_size=64, temporal_overlap=8):
        if tile_size < overlap * 4:
            overlap = tile_size // 4
        scale = vae.downscale
        _load_for_decode(vae, samples["samples"][..., :tile_size // scale, :tile_size // scale])
        return (vae.decode_tiled(samples["samples"], tile_size // scale, overlap // scale),)


class VAEEncodeTiled:
    CATEGORY = "_for_testing"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        tiles = _tile_inputs(64, 32)
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",), **tiles}}

    def encode(self, vae, pixels, tile_size, overlap, temporal_size=64, temporal_overlap=8):
        _load_for_encode(vae, pixels[:, :tile_size, :tile_size])
        return ({"samples": vae.encode_tiled(pixels, tile_size, overlap)},)


class VAEEncodeForInpaint:
    CATEGORY = "latent/inpaint"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",), "mask": ("MASK",),
                             "grow_mask_by": ("INT", {"default": 6, "min": 0, "max": 64,
                                                      "step": 1})}}

    def encode(self, vae, pixels, mask, grow_mask_by=6):
        pixels, noise_mask = masks.inpaint_inputs(pixels, mask, grow_mask_by, vae.downscale)
        _load_for_encode(vae, pixels)
        return ({"samples": vae.encode(pixels, oom_recovery([vae])), "noise_mask": noise_mask},)


NODE_CLASS_MAPPINGS = {
    "VAEDecode": VAEDecode,
    "VAEEncode": VAEEncode,
    "VAEEncodeForInpaint": VAEEncodeForInpaint,
    "VAEDecodeTiled": VAEDecodeTiled,
    "VAEEncodeTiled": VAEEncodeTiled,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "VAEDecode": "VAE Decode",
    "VAEEncode": "VAE Encode",
    "VAEEncodeForInpaint": "VAE Encode (for Inpainting)",
    "VAEDecodeTiled": "VAE Decode (Tiled)",
    "VAEEncodeTiled": "VAE Encode (Tiled)",
}
