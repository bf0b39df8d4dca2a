"""`comfy_extras.nodes_photomaker`: ComfyUI's PhotoMakerLoader and PhotoMakerEncode (our
built-in classes) and the ID encoder class, `PhotoMakerIDEncoder`."""

from comfy_extras._catalog import export
from comfy_core.models.photomaker import PhotoMakerIDEncoder  # noqa: F401

globals().update(export(__name__))
