"""Per-node progress for one run: `progress` and `progress_state` events, and previews
encoded from the (format, PIL image, max size) tuples node code passes to
`runtime.job().progress(...)`."""

from __future__ import annotations

import io
import logging
from typing import Any, Callable

from comfy_core.execution.events import PREVIEW, PROGRESS, PROGRESS_STATE, Event
from comfy_core.graph.dynamic import DynamicPrompt

log = logging.getLogger(__name__)

PREVIEW_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


def encode_preview(preview: Any) -> tuple[str, bytes]:
    """(mime type, bytes) of a ("JPEG"|"PNG", PIL.Image, max_size) preview: fitted into
    max_size x max_size (aspect kept, bilinear), JPEG quality 95 or PNG compress level 1."""
    from PIL import Image, ImageOps  # local: only runs that send previews need PIL

    fmt, image, max_size = preview
    if fmt not in PREVIEW_FORMATS:
        raise ValueError(f"preview format must be 'JPEG' or 'PNG', got {fmt!r}")
    if max_size:
        image = ImageOps.contain(image, (int(max_size), int(max_size)), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if fmt == "PNG":
        image.save(buf, format="PNG", compress_level=1)
    else:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(buf, format="JPEG", quality=95)
    return PREVIEW_FORMATS[fmt], buf.getvalue()


class ProgressTracker:
    """progress_state of every node that started in this run (pending nodes omitted)."""

    def __init__(self, prompt_id: str, dynprompt: DynamicPrompt, send: Callable[[Event], None]) -> None:
        self._prompt_id = prompt_id
        self._prompt = dynprompt
        self._send = send
        self._states: dict[str, dict] = {}

    def _entry(self, node_id: str, value: float, total: float, state: str) -> dict:
        return {"value": value, "max": total, "state": state, "node_id": node_id,
                "prompt_id": self._prompt_id,
                "display_node_id": self._prompt.get_display_node_id(node_id),
                "parent_node_id": self._prompt.get_parent_node_id(node_id),
                "real_node_id": self._prompt.get_real_node_id(node_id)}

    def _publish(self) -> None:
        # A fresh dict each time; entries are replaced, never mutated, once sent.
        self._send(Event(PROGRESS_STATE, {"prompt_id": self._prompt_id, "nodes": dict(self._states)}))

    def start(self, node_id: str) -> None:
        self._states[node_id] = self._entry(node_id, 0, 1, "running")
        self._publish()

    def update(self, node_id: str, value: float, total: float) -> None:
        self._send(Event(PROGRESS, {"value": value, "max": total, "prompt_id": self._prompt_id,
                                    "node": node_id}))
        self._states[node_id] = self._entry(node_id, value, total, "running")
        self._publish()

    def finish(self, node_id: str) -> None:
        old = self._states.get(node_id)
        total = old["max"] if old else 1
        self._states[node_id] = self._entry(node_id, total, total, "finished")
        self._publish()

    def preview(self, node_id: str, preview: Any) -> None:
        try:
            mime, data = encode_preview(preview)
        except Exception:
            log.exception("node %s sent an unusable preview; skipped", node_id)
            return
        meta = {"node_id": node_id, "prompt_id": self._prompt_id,
                "display_node_id": self._prompt.get_display_node_id(node_id),
                "parent_node_id": self._prompt.get_parent_node_id(node_id),
                "real_node_id": self._prompt.get_real_node_id(node_id), "image_type": mime}
        self._send(Event(PREVIEW, meta, data))
