"""Pixel-space upscale models (ComfyUI's comfy_extras.nodes_upscale_model, V3 schema) and the
SD 2.x x4 upscaler's conditioning (comfy_extras.nodes_sdupscale).

UPSCALE_MODEL is spandrel's ImageModelDescriptor (`comfy_core.loading.upscale_models`);
ImageUpscaleWithModel runs it in 512 px tiles overlapping by 32, halving the tile after an
out-of-memory error down to 128 px, with progress per tile (`comfy_core.models.upscale`).
"""

from __future__ import annotations

import torch

from comfy_core import runtime
from comfy_core.images import resize
from comfy_core.loading.upscale_models import load_upscale_model
from comfy_core.memory.recovery import OomRecovery
from comfy_core.models.upscale import TilePlan, upscale_with_backoff, workspace_bytes
from comfy_core.registry.v3 import io
from nodes.common import check_interrupt, folders, model_files

UPSCALE_MODULE = "comfy_extras.nodes_upscale_model"


class UpscaleModelLoader(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = UPSCALE_MODULE

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="UpscaleModelLoader", display_name="Load Upscale Model", category="loaders",
                         inputs=[io.Combo.Input("model_name", options=model_files("upscale_models"))],
                         outputs=[io.UpscaleModel.Output()])

    @classmethod
    def execute(cls, model_name):
        return io.NodeOutput(load_upscale_model(folders().get_full_path_or_raise("upscale_models", model_name)))

    load_model = execute


def _on_tile(done: int, total: int) -> None:
    job = runtime.job()
    if job is not None:
        job.progress(done, total)


def upscale_image(upscale_model, image: torch.Tensor) -> torch.Tensor:
    """IMAGE [B, H, W, C] -> IMAGE [B, H·s, W·s, C] clamped to 0..1 (CPU float32). The
    memory manager frees room for the model and one tile first; the model goes back to the
    CPU afterwards."""
    check_interrupt()
    memory = runtime.app().memory
    device = torch.device("cpu") if memory is None else memory.device
    scale = float(upscale_model.scale)
    if memory is not None:
        model_bytes = sum(p.numel() * p.element_size() for p in upscale_model.model.parameters())
        memory.free(model_bytes + workspace_bytes(image, scale))
    recovery = OomRecovery(memory)
    upscale_model.to(device)
    try:
        pixels = image.movedim(-1, 1).to(device)  # [B, C, H, W]
        out = upscale_with_backoff(upscale_model, pixels, scale, int(upscale_model.output_channels),
                                   TilePlan(), on_tile=_on_tile, on_oom=recovery.free)
    finally:
        upscale_model.to("cpu")
    return torch.clamp(out.movedim(1, -1), min=0.0, max=1.0).cpu()


class ImageUpscaleWithModel(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = UPSCALE_MODULE

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageUpscaleWithModel", display_name="Upscale Image (using Model)",
                         category="image/upscaling", inputs=[io.UpscaleModel.Input("upscale_model"),
                                                             io.Image.Input("image")],
                         outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, upscale_model, image):
        return io.NodeOutput(upscale_image(upscale_model, image))

    upscale = execute


def _with(conditioning: list, **options) -> list:
    return [[t[0], {**t[1], **options}] for t in conditioning]


class SD_4XUpscale_Conditioning(io.ComfyNode):
    """The SD 2.x x4 upscaler takes the low-resolution image (in -1..1, at the latent's size)
    as concat channels and a noise-augmentation level; the latent is 1/4 of the target."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_sdupscale"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SD_4XUpscale_Conditioning", category="conditioning/upscale_diffusion", inputs=[
            io.Image.Input("images"), io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
            io.Float.Input("scale_ratio", default=4.0, min=0.0, max=10.0, step=0.01),
            io.Float.Input("noise_augmentation", default=0.0, min=0.0, max=1.0, step=0.001)],
            outputs=[io.Conditioning.Output(display_name="positive"), io.Conditioning.Output(display_name="negative"),
                     io.Latent.Output(display_name="latent")])

    @classmethod
    def execute(cls, images, positive, negative, scale_ratio, noise_augmentation):
        width = max(1, round(images.shape[-2] * scale_ratio))
        height = max(1, round(images.shape[-3] * scale_ratio))
        pixels = resize.upscale(images.movedim(-1, 1) * 2.0 - 1.0, width // 4, height // 4, "bilinear", "center")
        options = {"concat_image": pixels, "noise_augmentation": noise_augmentation}
        latent = torch.zeros([images.shape[0], 4, height // 4, width // 4])
        return io.NodeOutput(_with(positive, **options), _with(negative, **options), {"samples": latent})

    encode = execute


NODE_CLASS_MAPPINGS = {
    "UpscaleModelLoader": UpscaleModelLoader,
    "ImageUpscaleWithModel": ImageUpscaleWithModel,
    "SD_4XUpscale_Conditioning": SD_4XUpscale_Conditioning,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
