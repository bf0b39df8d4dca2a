"""Websocket wire format (COMPAT 2): message names, routing rules and binary frames."""

from __future__ import annotations

import json
import struct

# Binary event types (big-endian uint32 header).
PREVIEW_IMAGE = 1
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4
IMAGE_FORMATS = {"image/jpeg": 1, "JPEG": 1, "image/png": 2, "PNG": 2}

# Execution events that go nowhere when the prompt has no client_id (COMPAT 2.2) ...
CLIENT_ONLY = frozenset({"execution_start", "execution_cached", "execution_success",
                         "execution_error", "executing", "executed"})
# ... and those broadcast to every socket in that case.
BROADCAST_WITHOUT_CLIENT = frozenset({"execution_interrupted", "progress", "progress_state",
                                      "preview"})
PREVIEW_META_KEYS = ("node_id", "prompt_id", "display_node_id", "parent_node_id",
                     "real_node_id", "image_type")


def json_message(kind: str, data: dict) -> str:
    return json.dumps({"type": kind, "data": data})


def status_data(queue_remaining: int, sid: str | None = None) -> dict:
    data: dict = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:
        data["sid"] = sid
    return data


def server_feature_flags(max_upload_bytes: int) -> dict:
    """The flags this server advertises (reply to the client's feature_flags, /features)."""
    return {"supports_preview_metadata": True, "max_upload_size": float(max_upload_bytes),
            "extension": {"manager": {"supports_v4": True}}}


def preview_frame(image: bytes, meta: dict, *, with_metadata: bool) -> bytes:
    """Type 4 (`[4][len][json][image]`) or type 1 (`[1][fmt][image]`) preview frame."""
    image_type = meta.get("image_type", "image/jpeg")
    if with_metadata:
        body = json.dumps({k: meta.get(k) for k in PREVIEW_META_KEYS}).encode()
        return struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(body)) + body + image
    fmt = IMAGE_FORMATS.get(image_type, 1)
    return struct.pack(">II", PREVIEW_IMAGE, fmt) + image


def text_frame(node_id: str, text: str) -> bytes:
    node = node_id.encode()
    return struct.pack(">II", TEXT, len(node)) + node + text.encode()
