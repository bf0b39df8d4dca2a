"""GET /api/jobs and /api/jobs/{job_id} (COMPAT 1.7; declared with the /api prefix)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from comfy_core.api.params import ParamError, parse_int
from comfy_core.api.state import services_of
from comfy_core.jobs import JobQueryError, get_job, list_jobs, parse_job_query

routes = web.RouteTableDef()


@routes.get("/api/jobs")
async def jobs(request: web.Request) -> web.Response:
    try:
        query = parse_job_query(
            request.query, limit=parse_int(request.query.get("limit"), "limit"),
            offset=parse_int(request.query.get("offset"), "offset", 0))
    except (JobQueryError, ParamError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    body = await asyncio.to_thread(list_jobs, services_of(request).store, query)
    return web.json_response(body)


@routes.get("/api/jobs/{job_id}")
async def job(request: web.Request) -> web.Response:
    found = await asyncio.to_thread(get_job, services_of(request).store,
                                    request.match_info["job_id"])
    if found is None:
        return web.json_response({"error": "Job not found"}, status=404)
    return web.json_response(found)
