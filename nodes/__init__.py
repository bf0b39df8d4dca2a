"""Built-in nodes. Each domain module exports NODE_CLASS_MAPPINGS and
NODE_DISPLAY_NAME_MAPPINGS; this package merges them in a fixed order.

Importing this package imports torch (node modules are model-side); the engine reaches it
only through the registry.
"""

from __future__ import annotations

from nodes import conditioning, image, latent, mask, primitives, vae

_MODULES = (latent, conditioning, vae, image, mask, primitives)

NODE_CLASS_MAPPINGS: dict[str, type] = {
    name: cls for module in _MODULES for name, cls in module.NODE_CLASS_MAPPINGS.items()
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    name: title for module in _MODULES
    for name, title in module.NODE_DISPLAY_NAME_MAPPINGS.items()
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
