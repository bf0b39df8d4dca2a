"""Typed execution events; `type` and `data` are exactly ComfyUI's websocket messages
(COMPAT 2.3). "preview" events carry the encoded image in `binary`; the websocket layer
chooses binary frame type 1 or 4 from the client's feature flags."""

from __future__ import annotations

import time
from dataclasses import dataclass

EXECUTION_START = "execution_start"
EXECUTION_CACHED = "execution_cached"
EXECUTING = "executing"
PROGRESS = "progress"
PROGRESS_STATE = "progress_state"
EXECUTED = "executed"
EXECUTION_SUCCESS = "execution_success"
EXECUTION_ERROR = "execution_error"
EXECUTION_INTERRUPTED = "execution_interrupted"
PREVIEW = "preview"

# Messages that also go into the history record's status.messages.
HISTORY_MESSAGES = frozenset(
    {EXECUTION_START, EXECUTION_CACHED, EXECUTION_SUCCESS, EXECUTION_ERROR, EXECUTION_INTERRUPTED}
)


@dataclass(frozen=True)
class Event:
    """One message for the prompt's client. For "preview", `binary` is the image bytes and
    `data` the metadata {"node_id","prompt_id","display_node_id","parent_node_id",
    "real_node_id","image_type"}."""

    type: str
    data: dict
    binary: bytes | None = None


def now_ms() -> int:
    return int(time.time() * 1000)
