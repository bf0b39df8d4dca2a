"""Typed application state keys (aiohttp web.AppKey), one per shared object."""

from __future__ import annotations

from aiohttp import web

from comfy_core.api.hub import WebSocketHub
from comfy_core.api.plugin_server import PromptServer
from comfy_core.api.state import STATE, WorkerSlot

HUB = web.AppKey("hub", WebSocketHub)
WORKER = web.AppKey("worker", WorkerSlot)
PLUGIN_SERVER = web.AppKey("plugin_server", PromptServer)

__all__ = ["HUB", "PLUGIN_SERVER", "STATE", "WORKER"]
