"""The two contexts a node can reach without importing the server.

`AppContext` is built once by server.py (folders, settings, memory manager) and installed
with `use_app`; threads that run jobs copy it with `contextvars.copy_context()`.
`JobContext` is installed by the executor around each node so long-running node code
(samplers, tiled VAE) can report progress, send previews and notice interrupts.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


class Interrupted(Exception):
    """Raised inside a job when the user interrupted it; ends the prompt cleanly."""


@dataclass(frozen=True)
class AppContext:
    """What nodes may use from the running application. Fields are typed loosely so that
    this leaf module imports neither the file layer's nor the memory layer's classes."""

    folders: Any  # comfy_core.files.FolderPaths
    settings: Any = None  # comfy_core.settings.Settings
    memory: Any = None  # comfy_core.memory.MemoryManager, None until models are used


# Signature of the executor's progress sink: (value, max, preview) where preview is
# None or a ("JPEG"|"PNG", PIL.Image, max_size) tuple.
ProgressSink = Callable[[int, int, Any], None]


@dataclass
class JobContext:
    """The running prompt as the node code sees it. `node_id` changes as nodes run."""

    prompt_id: str
    interrupt: threading.Event = field(default_factory=threading.Event)
    node_id: str | None = None
    call_index: int = 0  # which call of the node (list inputs map a node over several)
    on_progress: ProgressSink | None = None
    extra_data: dict = field(default_factory=dict)

    def check_interrupt(self) -> None:
        if self.interrupt.is_set():
            raise Interrupted(f"prompt {self.prompt_id} interrupted")

    def progress(self, value: int, total: int, preview: Any = None) -> None:
        """Report step `value` of `total` (and an optional preview); raise if interrupted."""
        self.check_interrupt()
        if self.on_progress is not None:
            self.on_progress(value, total, preview)


_APP: ContextVar[AppContext | None] = ContextVar("comfy_app", default=None)
_JOB: ContextVar[JobContext | None] = ContextVar("comfy_job", default=None)


def app() -> AppContext:
    ctx = _APP.get()
    if ctx is None:
        raise RuntimeError("no application context: run inside runtime.use_app(...)")
    return ctx


def job() -> JobContext | None:
    """The running job, or None outside the executor (e.g. a node called from a test)."""
    return _JOB.get()


@contextlib.contextmanager
def use_app(ctx: AppContext) -> Iterator[AppContext]:
    token = _APP.set(ctx)
    try:
        yield ctx
    finally:
        _APP.reset(token)


@contextlib.contextmanager
def use_job(ctx: JobContext) -> Iterator[JobContext]:
    token = _JOB.set(ctx)
    try:
        yield ctx
    finally:
        _JOB.reset(token)
