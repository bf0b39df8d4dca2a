"""Durable job queue and history (SQLite), the jobs API queries and the worker thread."""

from comfy_core.jobs.queries import JobQuery, JobQueryError, get_job, list_jobs, parse_job_query
from comfy_core.jobs.records import SENSITIVE_KEYS, STOPPED_REASON, Job, split_sensitive
from comfy_core.jobs.store import DuplicatePromptError, JobStore, StoreUnavailableError

__all__ = [
    "DuplicatePromptError", "Job", "JobQuery", "JobQueryError", "JobStore", "SENSITIVE_KEYS",
    "STOPPED_REASON", "StoreUnavailableError", "get_job", "list_jobs", "parse_job_query",
    "split_sensitive",
]
