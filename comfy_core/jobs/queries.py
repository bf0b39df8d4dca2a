"""The jobs API (COMPAT 1.7): validated query parameters, SQL filters and job objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from comfy_core.jobs.records import JOB_STATUSES, message_times, outputs_summary
from comfy_core.jobs.store import JobStore

_SORT_SQL = {"created_at": "create_time", "execution_duration": "(exec_end - exec_start)"}
# "cancelled" is the newer frontends' filter value (they ask for completed,failed,cancelled);
# as in ComfyUI 0.8.0 an interrupted job is "failed", so it matches no job here.
_STATE_SQL = {"pending": "state='pending'", "in_progress": "state='running'",
              "completed": "job_status='completed'", "failed": "job_status='failed'",
              "cancelled": "0"}
QUERY_STATUSES = (*JOB_STATUSES, "cancelled")


class JobQueryError(ValueError):
    """A jobs API query parameter is malformed; the message is shown to the client."""


@dataclass(frozen=True)
class JobQuery:
    statuses: tuple[str, ...] = ()
    workflow_id: str | None = None
    sort_by: str = "created_at"
    sort_order: str = "desc"
    limit: int | None = None
    offset: int = 0


def parse_job_query(params: Mapping[str, str], *, limit: int | None = None,
                    offset: int = 0) -> JobQuery:
    """Validate query-string values; raises JobQueryError naming the bad parameter.

    `limit` and `offset` arrive parsed (the API's one integer parser bounds them)."""
    statuses = tuple(s.strip() for s in params.get("status", "").split(",") if s.strip())
    bad = [s for s in statuses if s not in QUERY_STATUSES]
    if bad:
        raise JobQueryError(f"Invalid status value(s): {', '.join(bad)}. Valid: "
                            f"{', '.join(QUERY_STATUSES)}")
    sort_by = params.get("sort_by", "created_at")
    if sort_by not in _SORT_SQL:
        raise JobQueryError("sort_by must be 'created_at' or 'execution_duration'")
    sort_order = params.get("sort_order", "desc")
    if sort_order not in ("asc", "desc"):
        raise JobQueryError("sort_order must be 'asc' or 'desc'")
    if limit is not None and limit <= 0:
        raise JobQueryError("limit must be a positive integer")
    return JobQuery(statuses, params.get("workflow_id") or None, sort_by, sort_order, limit,
                    max(offset, 0))


def list_jobs(store: JobStore, query: JobQuery) -> dict:
    """The /api/jobs body: {"jobs": [...], "pagination": {...}}."""
    clauses, params = ["1=1"], []
    if query.statuses:
        clauses.append("(" + " OR ".join(_STATE_SQL[s] for s in query.statuses) + ")")
    if query.workflow_id is not None:
        clauses.append("workflow_id=?")
        params.append(query.workflow_id)
    direction = "ASC" if query.sort_order == "asc" else "DESC"
    order = f"{_SORT_SQL[query.sort_by]} {direction}, seq {direction}"
    limit = -1 if query.limit is None else query.limit
    rows, total = store.raw_rows(" AND ".join(clauses), tuple(params), order, limit,
                                 query.offset)
    jobs = [job_object(r) for r in rows]
    has_more = query.offset + len(jobs) < total
    return {"jobs": jobs, "pagination": {"offset": query.offset, "limit": query.limit,
                                         "total": total, "has_more": has_more}}


def get_job(store: JobStore, prompt_id: str) -> dict | None:
    """The /api/jobs/{id} body, or None when unknown."""
    rows, _ = store.raw_rows("prompt_id=?", (prompt_id,), "seq", 1, 0)
    if not rows:
        return None
    row = rows[0]
    job = job_object(row)
    result = json.loads(row[8]) if row[8] else None
    job["outputs"] = result["outputs"] if result else {}
    job["execution_status"] = result["status"] if result else None
    job["workflow"] = {"prompt": json.loads(row[2]), "extra_data": json.loads(row[3])}
    return {k: v for k, v in job.items() if v is not None}


def job_object(row: tuple) -> dict:
    """Job object of one row; keys whose value is None are left out (COMPAT 1.7)."""
    prompt_id, number, _, _, _, state, create_time, workflow_id, result_json, job_status = row[:10]
    status = {"pending": "pending", "running": "in_progress"}.get(state, job_status)
    job = {"id": prompt_id, "status": status, "priority": number, "create_time": create_time,
           "workflow_id": workflow_id}
    if result_json:
        result = json.loads(result_json)
        count, preview = outputs_summary(result["outputs"])
        start, end, error = message_times(result["status"])
        job.update(outputs_count=count, execution_start_time=start, execution_end_time=end,
                   execution_error=error, preview_output=preview)
    return {k: v for k, v in job.items() if v is not None}
