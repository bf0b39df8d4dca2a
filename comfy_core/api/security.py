"""Middlewares: JSON errors, safe headers, Host check, same-origin check or CORS, auth token.

Order (outermost first): errors -> headers -> host -> origin/CORS -> auth, so a request
naming another host is refused before anything else, preflights are answered before
authentication, and every failure, including 401/403/413, is JSON.
"""

from __future__ import annotations

import hmac
import logging
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from comfy_core.api.errors import error_body, is_storage_full, storage_unavailable
from comfy_core.api.hosts import allowed_hosts, host_name, is_allowed
from comfy_core.jobs import StoreUnavailableError
from comfy_core.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_COOKIE = "comfy_token"
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".ico")
_NO_CACHE_EXTS = (".js", ".css", ".mjs")
_STATUS_KINDS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large",
                 415: "unsupported_media_type"}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn empty HTTP errors and unexpected exceptions into structured JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.text and exc.content_type == "application/json":
            raise
        kind = _STATUS_KINDS.get(exc.status, "http_error")
        details = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        body = {"error": error_body(kind, exc.reason, details)}
        headers = {k: v for k, v in exc.headers.items()
                   if k.lower() not in ("content-type", "content-length")}
        return web.json_response(body, status=exc.status, headers=headers)
    except StoreUnavailableError as exc:
        log.error("%s %s: %s", request.method, request.path, exc)
        return storage_unavailable(exc)
    except OSError as exc:
        if not is_storage_full(exc):
            return _internal_error(request, exc)
        log.error("%s %s: %s", request.method, request.path, exc)
        return storage_unavailable(exc)
    except Exception as exc:  # the server keeps running whatever a request does
        return _internal_error(request, exc)


def _internal_error(request: web.Request, exc: Exception) -> web.Response:
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return web.json_response(
        {"error": error_body("internal_error", "internal server error",
                             f"{type(exc).__name__}: {exc}")}, status=500)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """nosniff everywhere; cache-control as ComfyUI (no-cache for code, long for images)."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    path = request.path.lower()
    if path.endswith(_NO_CACHE_EXTS) or (path.endswith(".json") and "index" in path):
        response.headers.setdefault("Cache-Control", "no-cache")
    elif path.endswith(_IMAGE_EXTS):
        if response.status in (200, 201, 204, 301, 308):
            response.headers.setdefault("Cache-Control", "public, max-age=86400")
        elif response.status == 404:
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
    return response


def _forbidden(message: str) -> web.Response:
    return web.json_response({"error": error_body("forbidden", message)}, status=403)


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_middleware(allowed: frozenset[str]) -> Callable:
    """403 unless the Host header names this server (DNS rebinding); a state-changing
    request without a Host header is refused too."""

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = request.headers.get("Host")
        if raw is None:
            if request.method in STATE_CHANGING:
                return _forbidden("a Host header is required on state-changing requests")
            return await handler(request)
        name = host_name(raw)
        if not is_allowed(name, allowed):
            log.warning("refused %s %s for Host %r", request.method, request.path, raw[:100])
            return _forbidden(f"Host {raw[:100]!r} does not name this server; start it with "
                              f"--allow-host {name[:100]} to accept that name")
        return await handler(request)

    return check_host


def origin_middleware() -> Callable:
    """403 when a browser's Origin does not match the Host it talks to (cross-site)."""

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        host = request.headers.get("Host")
        if origin is not None and host is not None:
            if urlsplit(origin).netloc.lower() != host.lower():
                log.warning("rejected cross-origin request from %s to %s %s", origin,
                            request.method, request.path)
                return _forbidden(f"cross-origin request from {origin!r} refused")
        return await handler(request)

    return check_origin


def cors_middleware(allowed: str) -> Callable:
    """CORS headers for `allowed` (an origin or "*"); preflights answered with 200."""
    headers = {"Access-Control-Allow-Origin": allowed,
               "Access-Control-Allow-Methods": "POST, GET, DELETE, PUT, OPTIONS, PATCH",
               "Access-Control-Allow-Headers": "Content-Type, Authorization, Comfy-User",
               "Access-Control-Allow-Credentials": "true"}

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(headers=headers)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    return cors


def request_token(request: web.Request) -> tuple[str | None, bool]:
    """(token presented, whether it came from the query string)."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    if "token" in request.query:
        return request.query["token"], True
    return request.cookies.get(TOKEN_COOKIE), False


def auth_middleware(token: str, *, secure_cookie: bool) -> Callable:
    """Require `token` (Bearer header, ?token= or the cookie set after a ?token= visit)."""
    expected = token.encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        given, from_query = request_token(request)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            return web.json_response(
                {"error": error_body("unauthorized", "missing or wrong auth token",
                                     "send 'Authorization: Bearer <token>' or ?token=<token>")},
                status=401, headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        if from_query and not response.prepared:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict",
                                secure=secure_cookie, path="/")
        return response

    return require_token


def middlewares_for(settings: Settings) -> list[Callable]:
    """The middleware chain for these settings."""
    chain: list[Callable] = [errors_middleware, headers_middleware]
    if settings.host_check:
        chain.append(host_middleware(allowed_hosts(settings)))
    if settings.cors_origin is not None:
        chain.append(cors_middleware(settings.cors_origin))
    else:
        chain.append(origin_middleware())
    if settings.auth_token:
        chain.append(auth_middleware(settings.auth_token,
                                     secure_cookie=settings.tls_certfile is not None))
    return chain


def check_can_listen(settings: Settings) -> None:
    """Refuse to run without a token where one is needed (`Settings.requires_token`)."""
    if settings.requires_token and not settings.auth_token:
        where = ", ".join(settings.listen)
        why = "" if settings.host_check else " with the Host check off (--allow-host '*')"
        raise RuntimeError(f"refusing to listen on {where}{why} without an auth token: pass "
                           "--auth-token or set COMFY_AUTH_TOKEN")


