"""Typed application state keys (aiohttp web.AppKey), one per shared object."""

from __future__ import annotations

from aiohttp import web

from comfy_core.api.hub import WebSocketHub
from comfy_core.jobs.worker import Worker
from comfy_core.services import Services

SERVICES = web.AppKey("services", Services)
HUB = web.AppKey("hub", WebSocketHub)
WORKER = web.AppKey("worker", Worker)
