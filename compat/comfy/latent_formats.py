"""`comfy.latent_formats` (COMPAT-PLUGINS 3.12): the latent spaces of the families this
server samples, our classes under ComfyUI's names (packs build `SD15()` themselves and test
`isinstance(model.model.latent_format, SDXL)`). The other families' formats exist so such
checks can name them (no model here is one); building one raises an error saying the
family is not supported."""

from comfy._unsupported import unsupported_class
from comfy_core.models.latent_formats import SD15, SD_X4, SDXL, SDXL_Playground_2_5, LatentFormat  # noqa: F401

_OTHER_FAMILIES = {
    "SC_Prior": "Stable Cascade stage C's latent",
    "SC_B": "Stable Cascade stage B's latent", "SD3": "the SD3 latent", "StableAudio1": "the Stable Audio latent",
    "Flux": "the Flux latent", "Flux2": "the Flux 2 latent", "Mochi": "the Mochi video latent",
    "LTXV": "the LTX-Video latent", "LTXAV": "the LTX audio-video latent",
    "HunyuanVideo": "the Hunyuan Video latent", "HunyuanVideo15": "the Hunyuan Video 1.5 latent",
    "Cosmos1CV8x8x8": "the Cosmos video latent", "Wan21": "the Wan 2.1 video latent",
    "Wan22": "the Wan 2.2 video latent", "ACEAudio": "the ACE-Step audio latent",
    "HunyuanImage21": "the Hunyuan Image 2.1 latent", "ChromaRadiance": "the Chroma Radiance latent",
}
globals().update({name: unsupported_class(name, what, __name__) for name, what in _OTHER_FAMILIES.items()})
