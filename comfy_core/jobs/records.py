"""Pure helpers that shape queue items, history records and job objects (COMPAT 1.3-1.7)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# extra_data keys that carry credentials: never stored, never returned (COMPAT 1.3).
SENSITIVE_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
STOPPED_REASON = "server stopped while running"
JOB_STATUSES = ("pending", "in_progress", "completed", "failed")
FINISH_EVENTS = ("execution_success", "execution_error", "execution_interrupted")


def now_ms() -> int:
    return int(time.time() * 1000)


def split_sensitive(extra_data: dict) -> tuple[dict, dict]:
    """(extra_data without credentials, the credentials) so only the first is persisted."""
    public = {k: v for k, v in extra_data.items() if k not in SENSITIVE_KEYS}
    secret = {k: v for k, v in extra_data.items() if k in SENSITIVE_KEYS}
    return public, secret


def workflow_id_of(extra_data: dict) -> str | None:
    """`extra_data.extra_pnginfo.workflow.id`, the key the jobs API filters on."""
    pnginfo = extra_data.get("extra_pnginfo")
    workflow = pnginfo.get("workflow") if isinstance(pnginfo, dict) else None
    wid = workflow.get("id") if isinstance(workflow, dict) else None
    return str(wid) if wid is not None else None


@dataclass(frozen=True)
class Job:
    """One queued prompt as stored. `number` orders the queue (lower first)."""

    prompt_id: str
    number: int | float
    prompt: dict
    extra_data: dict
    outputs: list[str]
    sensitive: dict = field(default_factory=dict, compare=False, repr=False)

    def queue_item(self) -> list:
        """The 5-element list of /queue and history["prompt"]."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]

    def run_extra_data(self) -> dict:
        """extra_data for the executor: the stored keys plus the in-memory credentials."""
        return {**self.extra_data, **self.sensitive}


def history_record(job: Job, outputs: dict, status: dict, meta: dict) -> dict:
    return {"prompt": job.queue_item(), "outputs": outputs, "status": status, "meta": meta}


HISTORY_PARTS = ("prompt", "extra_data", "workflow", "outputs")


@dataclass(frozen=True)
class HistoryView:
    """Which parts of history records to leave out (`/history?omit=&max_field_bytes=`):
    the named parts, and `prompt`/`extra_data` whose stored JSON exceeds max_field_bytes.
    Left-out parts become `{}` and are listed in the record's `omitted` key."""

    omit: frozenset[str] = frozenset()
    max_field_bytes: int | None = None

    def drops(self, part: str, stored_size: int) -> bool:
        return part in self.omit or (self.max_field_bytes is not None
                                     and part in ("prompt", "extra_data")
                                     and stored_size > self.max_field_bytes)


def without_workflow(extra_data: dict) -> tuple[dict, bool]:
    """(extra_data without extra_pnginfo.workflow, whether there was one)."""
    pnginfo = extra_data.get("extra_pnginfo")
    if not isinstance(pnginfo, dict) or "workflow" not in pnginfo:
        return extra_data, False
    rest = {k: v for k, v in pnginfo.items() if k != "workflow"}
    return {**extra_data, "extra_pnginfo": rest}, True


def stopped_status(prompt_id: str, reason: str = STOPPED_REASON) -> dict:
    """History status of a job whose server died under it."""
    ts = now_ms()
    error = {"prompt_id": prompt_id, "node_id": None, "node_type": None, "executed": [],
             "exception_message": reason, "exception_type": "ServerStopped", "traceback": [],
             "current_inputs": {}, "current_outputs": [], "timestamp": ts}
    return {"status_str": "error", "completed": False,
            "messages": [["execution_error", error]]}


def job_status_of(status: dict) -> str:
    return "completed" if status.get("status_str") == "success" else "failed"


def message_times(status: dict) -> tuple[int | None, int | None, dict | None]:
    """(start timestamp, end timestamp, execution_error data) from history status messages."""
    start = end = None
    error = None
    for name, data in status.get("messages", []):
        ts = data.get("timestamp") if isinstance(data, dict) else None
        if name == "execution_start":
            start = ts
        elif name in FINISH_EVENTS:
            end = ts
            if name == "execution_error":
                error = data
    return start, end, error


def outputs_summary(outputs: dict) -> tuple[int, dict | None]:
    """(number of output items, first previewable item with nodeId/mediaType).

    Items of type "output" are preferred over temp previews."""
    count = 0
    first: dict | None = None
    first_output: dict | None = None
    for node_id, ui in outputs.items():
        if not isinstance(ui, dict):
            continue
        for media, items in ui.items():
            if not isinstance(items, list):
                continue
            for item in items:
                count += 1
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                preview = {**item, "nodeId": node_id, "mediaType": media}
                first = first or preview
                if item.get("type") == "output" and first_output is None:
                    first_output = preview
    return count, first_output or first
