"""VAE nodes: pixels <-> latents, whole or in tiles, and the inpainting and
InstructPix2Pix encodes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images import masks
from comfy_core.registry.v3 import io
from nodes import conditioning_ops as ops


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
        return (vae.decode(samples["samples"]),)


class VAEEncode:
    CATEGORY = "latent"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",)}}

    def encode(self, vae, pixels):
        return ({"samples": vae.encode(pixels)},)


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
        scale = vae.spacial_compression_decode()
        return (vae.decode_tiled(samples["samples"], tile_x=tile_size // scale, tile_y=tile_size // scale,
                                 overlap=overlap // scale),)


class VAEEncodeTiled:
    CATEGORY = "_for_testing"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        tiles = _tile_inputs(64, 32)
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",), **tiles}}

    def encode(self, vae, pixels, tile_size, overlap, temporal_size=64, temporal_overlap=8):
        return ({"samples": vae.encode_tiled(pixels, tile_x=tile_size, tile_y=tile_size, overlap=overlap)},)


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
        pixels, noise_mask = masks.inpaint_inputs(pixels, mask, grow_mask_by, vae.downscale_ratio)
        return ({"samples": vae.encode(pixels), "noise_mask": noise_mask},)


def inpaint_model_inputs(pixels: torch.Tensor, mask: torch.Tensor,
                         multiple: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """InpaintModelConditioning's preparation: `pixels` [B, H, W, C] center-cropped to
    multiples of `multiple`, `mask` resized bilinearly to the pixel size and cropped alike
    ([B, 1, H', W'], not rounded: it becomes the noise mask), masked pixels
    (mask.round() == 1) set to grey 0.5, the colour the inpainting UNets were trained on."""
    h, w = pixels.shape[1] // multiple * multiple, pixels.shape[2] // multiple * multiple
    if h == 0 or w == 0:
        raise ValueError(f"image {pixels.shape[2]}x{pixels.shape[1]} is smaller than {multiple} pixels")
    mask = F.interpolate(mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float(),
                         size=(pixels.shape[1], pixels.shape[2]), mode="bilinear")
    top, left = (pixels.shape[1] % multiple) // 2, (pixels.shape[2] % multiple) // 2
    pixels = pixels[:, top:top + h, left:left + w].clone()
    mask = mask[:, :, top:top + h, left:left + w]
    keep = (1.0 - mask.round()).squeeze(1)[..., None]  # [B, H', W', 1]
    pixels[..., :3] = (pixels[..., :3] - 0.5) * keep + 0.5
    return pixels, mask


class InpaintModelConditioning:
    CATEGORY = "conditioning/inpaint"
    RETURN_TYPES = ("CONDITIONING", "CONDITIONING", "LATENT")
    RETURN_NAMES = ("positive", "negative", "latent")
    FUNCTION = "encode"
    DESCRIPTION = ("Prepares inpainting-model inputs: the masked image's latent and the mask go "
                   "into both conditionings, the whole image's latent is the output latent.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "vae": ("VAE",),
            "pixels": ("IMAGE",), "mask": ("MASK",),
            "noise_mask": ("BOOLEAN", {"default": True, "tooltip": (
                "Also put the mask on the latent so sampling changes only the masked area. "
                "Helps some models, hurts others.")})}}

    def encode(self, positive, negative, pixels, vae, mask, noise_mask=True):
        masked, pixel_mask = inpaint_model_inputs(pixels, mask, vae.downscale_ratio)
        concat_latent = vae.encode(masked)
        latent = {"samples": vae.encode(pixels)}
        if noise_mask:
            latent["noise_mask"] = pixel_mask
        values = {"concat_latent_image": concat_latent, "concat_mask": pixel_mask}
        return (ops.set_values(positive, values), ops.set_values(negative, values), latent)


def crop_to_multiple(pixels: torch.Tensor, multiple: int = 8) -> torch.Tensor:
    """`[B, H, W, C]` center-cropped so both sides are multiples of `multiple`."""
    h, w = pixels.shape[1] // multiple * multiple, pixels.shape[2] // multiple * multiple
    if h == 0 or w == 0:
        raise ValueError(f"image {pixels.shape[2]}x{pixels.shape[1]} is smaller than {multiple} pixels")
    top, left = (pixels.shape[1] % multiple) // 2, (pixels.shape[2] % multiple) // 2
    return pixels[:, top:top + h, left:left + w]


class InstructPixToPixConditioning(io.ComfyNode):
    """For InstructPix2Pix models: the input image's latent goes into both conditionings
    (the UNet reads it beside x); the output latent is empty, of the same size."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_ip2p"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="InstructPixToPixConditioning",
                         category="conditioning/instructpix2pix", inputs=[
                             io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
                             io.Vae.Input("vae"), io.Image.Input("pixels")],
                         outputs=[io.Conditioning.Output(display_name="positive"),
                                  io.Conditioning.Output(display_name="negative"),
                                  io.Latent.Output(display_name="latent")])

    @classmethod
    def execute(cls, positive, negative, vae, pixels):
        pixels = crop_to_multiple(pixels)
        concat_latent = vae.encode(pixels)
        values = {"concat_latent_image": concat_latent}
        return io.NodeOutput(ops.set_values(positive, values), ops.set_values(negative, values),
                             {"samples": torch.zeros_like(concat_latent)})


NODE_CLASS_MAPPINGS = {
    "VAEDecode": VAEDecode,
    "VAEEncode": VAEEncode,
    "VAEEncodeForInpaint": VAEEncodeForInpaint,
    "VAEDecodeTiled": VAEDecodeTiled,
    "VAEEncodeTiled": VAEEncodeTiled,
    "InpaintModelConditioning": InpaintModelConditioning,
    "InstructPixToPixConditioning": InstructPixToPixConditioning,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "VAEDecode": "VAE Decode",
    "VAEEncode": "VAE Encode",
    "VAEEncodeForInpaint": "VAE Encode (for Inpainting)",
    "VAEDecodeTiled": "VAE Decode (Tiled)",
    "VAEEncodeTiled": "VAE Encode (Tiled)",
}
