"""GET /custom_nodes: every custom-node pack and what became of it.

Beside /object_info (which lists only the nodes that loaded) this says, per pack: loaded or
failed, its nodes, import time, and for a failure the real cause and the fix (a missing
pip package and the command installing the pack's requirements with this server's Python).
"""

from __future__ import annotations

from aiohttp import web

from comfy_core.api.state import services_of

routes = web.RouteTableDef()


@routes.get("/custom_nodes")
async def custom_nodes(request: web.Request) -> web.Response:
    services = services_of(request)
    packs = [report.as_json() for report in services.plugins]
    return web.json_response({"packs": packs,
                              "failed": [p["name"] for p in packs if p["status"] == "failed"]})
