"""Per-process and per-job context, reached through contextvars instead of globals."""

from comfy_core.runtime.context import (
    AppContext,
    Interrupted,
    JobContext,
    app,
    job,
    use_app,
    use_job,
)

__all__ = ["AppContext", "Interrupted", "JobContext", "app", "job", "use_app", "use_job"]
