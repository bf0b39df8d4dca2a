"""`comfy.latent_formats` (COMPAT-PLUGINS 3.12): the latent spaces of the families this
server samples, our classes under ComfyUI's names (packs build `SD15()` themselves and test
`isinstance(model.model.latent_format, SDXL)`)."""

from comfy_core.models.latent_formats import SD15, SDXL, LatentFormat  # noqa: F401
