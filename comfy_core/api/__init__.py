"""HTTP + websocket API: `create_app(services)` builds the aiohttp application."""

from comfy_core.api.app import create_app

__all__ = ["create_app"]
