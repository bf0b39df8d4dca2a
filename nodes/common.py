"""What every built-in node module shares: limits and access to the running app."""

from __future__ import annotations

import logging
from typing import Any

from comfy_core import runtime
from comfy_core.files.image_limits import ImageLimits
from comfy_core.images import previews
from comfy_core.loading import taesd
from comfy_core.models.taesd import preview_pixels

log = logging.getLogger(__name__)

MAX_RESOLUTION = 16384
EXTRAS_PRIMITIVE = "comfy_extras.nodes_primitive"
EXTRAS_MASK = "comfy_extras.nodes_mask"
EXTRAS_CLIP_SDXL = "comfy_extras.nodes_clip_sdxl"


def folders() -> Any:
    """The app's `comfy_core.files.FolderPaths`."""
    return runtime.app().folders


def model_files(kind: str) -> list[str]:
    """Files of a model folder for a V3 combo. Empty outside a running app: nodes/__init__
    reads V3 schemas at import time for their titles, before any app exists."""
    try:
        return list(runtime.app().folders.get_filename_list(kind))
    except RuntimeError:
        return []


def setting(name: str, default: Any) -> Any:
    """One field of the app's Settings (the default when the app has no settings)."""
    settings = runtime.app().settings
    return default if settings is None else getattr(settings, name, default)


def image_limits() -> ImageLimits:
    """The app's pixel and frame limits for decoding user images (--max-image-*)."""
    return ImageLimits.of(runtime.app().settings)


def oom_recovery(models: list) -> Any:
    """How a node survives running out of memory while using `models`: the others are
    offloaded, then cheaper modes are tried (`comfy_core.memory.OomRecovery`)."""
    from comfy_core.memory.recovery import OomRecovery

    return OomRecovery(runtime.app().memory, keep=models)


def check_interrupt() -> None:
    """Raise `runtime.Interrupted` when the running job was interrupted."""
    job = runtime.job()
    if job is not None:
        job.check_interrupt()


def sampler_progress(model: Any, steps: int) -> Any:
    """Sampler callback `(step, x0, x, total)` for the running job: progress every step and
    throttled latent2rgb previews when a preview method is active (flag or the prompt's
    `extra_data.preview_method`). `model` is a MODEL value (its latent format gives the
    factors)."""
    job = runtime.job()
    method = previews.resolve_method(setting("preview_method", "none"),
                                     job.extra_data if job is not None else None)
    latent_format = model.model.latent_format
    render = taesd_render(latent_format) if method == "taesd" else None
    if render is None and method in ("taesd", "latent2rgb"):
        render = previews.latent2rgb_render(previews.LatentRGB.of(latent_format))
    previewer = None if render is None else previews.Previewer(render, setting("preview_size", 512))
    return previews.progress_callback(job, steps, previewer)


def taesd_render(latent_format: Any) -> previews.Render | None:
    """TAESD previews for a latent format when its decoder is in models/vae_approx, else None
    (logged: the caller falls back to latent2rgb, as ComfyUI does)."""
    name = latent_format.taesd_decoder_name
    found = taesd.find_decoder(folders().get_filename_list("vae_approx"), name) if name else None
    if found is None:
        log.warning("TAESD previews need models/vae_approx/%s.safetensors; using latent2rgb", name)
        return None
    decoder = taesd.load_decoder(folders().get_full_path("vae_approx", found))
    return lambda x0: previews.pixels_to_image(preview_pixels(decoder, x0))
