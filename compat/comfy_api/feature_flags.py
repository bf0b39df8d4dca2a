"""`comfy_api.feature_flags`: what a websocket client said it supports, and what we offer.

`sockets_metadata` is `PromptServer.instance.sockets_metadata`: {sid: {"feature_flags": {...}}}.
"""

from __future__ import annotations

from typing import Any

from comfy_core.api.protocol import server_feature_flags
from comfy_core.runtime.plugin_host import plugin_host_or_none
from comfy_core.settings import Settings


def get_connection_feature(sockets_metadata: dict, sid: str, feature_name: str,
                           default: Any = False) -> Any:
    """The value a client sent for `feature_name` (`default` when it sent none)."""
    flags = (sockets_metadata or {}).get(sid, {}).get("feature_flags", {})
    return flags.get(feature_name, default) if isinstance(flags, dict) else default


def supports_feature(sockets_metadata: dict, sid: str, feature_name: str) -> bool:
    """True only when the client sent exactly `true` for the flag."""
    return get_connection_feature(sockets_metadata, sid, feature_name, False) is True


def _server_flags() -> dict:
    """The running server's advertised flags (PromptServer.instance.feature_flags: packs
    add to it at import, e.g. ComfyUI-Manager). Without a server, one dict kept on the
    plugin host (so what a pack adds stays), or the defaults when nothing is bound."""
    from comfy_core.api.plugin_server import PromptServer

    server = getattr(PromptServer, "instance", None)
    if server is not None:
        return server.feature_flags
    host = plugin_host_or_none()
    settings = host.settings if host is not None else None
    limit = getattr(settings, "max_upload_bytes", None) or Settings().max_upload_bytes
    if host is None:
        return server_feature_flags(limit)
    if host.feature_flags is None:
        host.feature_flags = server_feature_flags(limit)
    return host.feature_flags


def get_server_features() -> dict:
    """The flags this server advertises to clients."""
    return dict(_server_flags())


def __getattr__(name: str) -> Any:
    if name == "SERVER_FEATURE_FLAGS":  # ComfyUI's module-level dict, mutated by packs
        return _server_flags()
    raise AttributeError(f"module 'comfy_api.feature_flags' has no attribute {name!r}")
