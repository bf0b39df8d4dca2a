"""`protocol`: ComfyUI's websocket binary event types."""

from comfy_core.api.plugin_server import BinaryEventTypes

__all__ = ["BinaryEventTypes"]
