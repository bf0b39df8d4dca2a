"""The worker: one Ray actor per device, with its own registry, executor, node cache and
memory manager. Plain Python here; `comfy_core.cluster.pool` wraps it with `ray.remote`.

`run` is a streaming generator: the job runs on a thread of the actor while `run` yields
batches of stream items to the server as they come, and a `("beat",)` item every
`BEAT_S` seconds of silence, so the server can tell a long node from a hung process.
Control calls (`interrupt`, `free`, `stats`) run on the actor's other threads.

Stream items: ("event", type, data, binary[, client_id]) | ("file", kind, subfolder,
filename, bytes) |
("result", outputs, status, meta) | ("beat",).
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from comfy_core.cluster.scratch import Scratch
from comfy_core.jobs.host_memory import heap_trimmer
from comfy_core.jobs.worker import crash_status
from comfy_core.runtime import AppContext, use_app
from comfy_core.settings import Settings

log = logging.getLogger(__name__)

BEAT_S = 1.0
BATCH_S = 0.05
BUSY_WAIT_S = 30.0
BASE_ENV = "COMFY_WORKER_BASE_DIRECTORY"
EXTRA_PATHS_ENV = "COMFY_WORKER_EXTRA_MODEL_PATHS"
NOT_LISTED = ("custom_nodes",)


def node_settings(settings: Settings, environ: Mapping[str, str], scratch: Path) -> Settings:
    """The server's settings as seen on this node: its own models and custom nodes (from
    the node's environment, when set) and the worker's scratch folders."""
    base = Path(environ[BASE_ENV]).resolve() if environ.get(BASE_ENV) else settings.base_directory
    extra = settings.extra_model_paths_config
    if environ.get(EXTRA_PATHS_ENV):
        extra = tuple(Path(p) for p in environ[EXTRA_PATHS_ENV].split(os.pathsep) if p)
    return replace(settings, base_directory=base, extra_model_paths_config=extra,
                   input_directory=scratch / "input", output_directory=scratch / "output",
                   temp_directory=scratch, user_directory=scratch / "user")


@dataclass
class _Running:
    prompt_id: str
    interrupt: threading.Event = field(default_factory=threading.Event)
    items: queue.Queue = field(default_factory=queue.Queue)


class WorkerActor:
    """One worker. Building it imports the nodes (and torch): seconds."""

    def __init__(self, worker_id: str, settings: Settings) -> None:
        from comfy_core.files import FolderPaths
        from comfy_core.registry.plugin_env import enable_facades
        from comfy_core.registry.prestartup import run_prestartup_scripts
        from comfy_core.services import build_executor, build_memory, build_registry

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        self.worker_id = worker_id
        self._scratch = Scratch(f"comfy-{worker_id}-")
        self._settings = node_settings(settings, os.environ, self._scratch.root)
        self._folders = FolderPaths.from_settings(self._settings)
        enable_facades(self._folders, self._settings)  # custom nodes import ComfyUI's names
        self._plugin_server = _plugin_server(self._settings, self)  # before prestartup scripts,
        run_prestartup_scripts(self._folders, self._settings)  # as in server.py
        self._memory, _ = build_memory(self._settings)
        self._registry, _, _ = build_registry(self._settings, self._folders,
                                              memory=self._memory)
        self._plugin_server.go_live()
        self._executor = build_executor(self._registry, self._settings)
        self._release_heap = heap_trimmer()
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._running: _Running | None = None
        self._free_after: tuple[bool, bool] | None = None
        self._early_interrupts: collections.deque[str] = collections.deque(maxlen=64)
        log.info("worker %s ready on %s (%s)", worker_id, socket.gethostname(), self.device())

    # -- description ----------------------------------------------------------------------
    def device(self) -> str:
        if self._memory is None:
            return "cpu"
        stats = self._memory.stats()
        name = stats[0]["name"] if stats else "cpu"
        return str(name)

    def info(self) -> dict:
        """Who and where this worker is and what it can run."""
        return {"worker": self.worker_id, "hostname": socket.gethostname(), "pid": os.getpid(),
                "node_id": _node_id(), "device": self.device(), "files": self.files(),
                "node_types": sorted(self._registry.names())}

    def files(self) -> dict[str, list[str]]:
        """The model files this worker can load, by folder."""
        return {name: self._folders.get_filename_list(name)
                for name in self._folders.folder_names() if name not in NOT_LISTED}

    def stats(self) -> dict:
        """The worker's device, memory and loaded models (for /system_stats)."""
        import psutil

        devices = self._memory.stats() if self._memory is not None else []
        loaded = [{"model": type(m).__name__, "loaded_bytes": int(m.loaded_size())}
                  for m in (self._memory.loaded_models() if self._memory is not None else [])]
        ram = psutil.virtual_memory()
        with self._lock:
            busy = self._running.prompt_id if self._running else None
        return {"worker": self.worker_id, "hostname": socket.gethostname(),
                "device": devices[0] if devices else None, "loaded": loaded, "running": busy,
                "ram_total": ram.total, "ram_free": ram.available}

    def ping(self) -> str:
        return self.worker_id

    # -- control ----------------------------------------------------------------------------
    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt the running job (only `prompt_id`, when given). An interrupt for a job
        that was sent here but has not started yet is kept for it."""
        with self._lock:
            running = self._running
            if prompt_id is not None and (running is None or running.prompt_id != prompt_id):
                self._early_interrupts.append(prompt_id)
                return False
            if running is None:
                return False
            running.interrupt.set()
            return True

    def free(self, unload_models: bool, free_memory: bool) -> None:
        """POST /free: at once when idle, else after the running job."""
        with self._lock:
            if self._running is not None:
                old = self._free_after or (False, False)
                self._free_after = (old[0] or unload_models, old[1] or free_memory)
                return
        self._apply_free(unload_models, free_memory)

    def request_free(self, request: Any) -> None:
        """A pack's PromptServer.instance asking for /free (a FreeRequest)."""
        self.free(request.unload_models, request.free_memory)

    def _apply_free(self, unload_models: bool, free_memory: bool) -> None:
        if free_memory:
            self._executor.reset_cache()
        if (unload_models or free_memory) and self._memory is not None:
            self._memory.unload_all()
        log.info("worker %s freed memory (unload_models=%s, free_memory=%s)", self.worker_id,
                 unload_models, free_memory)

    # -- jobs -------------------------------------------------------------------------------
    def run(self, job: dict) -> Iterator[list]:
        """Run one job, yielding lists of stream items until its ("result", ...)."""
        running = _Running(job["prompt_id"])
        with self._idle:  # the previous job may still be settling (it sent its result)
            if not self._idle.wait_for(lambda: self._running is None, timeout=BUSY_WAIT_S):
                raise RuntimeError(f"worker {self.worker_id} is still running "
                                   f"{self._running.prompt_id}")
            self._running = running
            if running.prompt_id in self._early_interrupts:
                running.interrupt.set()
        thread = threading.Thread(target=self._execute, args=(job, running), daemon=True,
                                  name=f"job-{job['prompt_id']}")
        thread.start()
        while True:
            batch = _take(running.items, BEAT_S)
            yield batch or [("beat",)]
            if batch and batch[-1][0] == "result":
                break
        thread.join()

    def _execute(self, job: dict, running: _Running) -> None:
        put = running.items.put
        prompt_id = job["prompt_id"]
        try:
            self._scratch.receive(job.get("files") or {})

            client_id = job["extra_data"].get("client_id")

            def emit(event: Any) -> None:
                self._plugin_server.observe(event.type, event.data, client_id)
                if event.type == "executed":
                    self._scratch.ship_ui(event.data.get("output"), put)
                put(("event", event.type, event.data, getattr(event, "binary", None)))

            context = AppContext(folders=self._folders, settings=self._settings,
                                 memory=self._memory)
            with use_app(context):
                result = self._executor.run(job["prompt"], prompt_id, job["extra_data"],
                                            job["outputs"], emit, running.interrupt)
            self._after_job()
            for ui in result.outputs.values():
                self._scratch.ship_ui(ui, put)
            self._scratch.ship_rest(put)
            status = {"status_str": result.status_str, "completed": result.completed,
                      "messages": result.messages}
            outcome = ("result", result.outputs, status, result.meta)
        except BaseException as exc:  # never leave the server without a result
            log.exception("worker %s failed around job %s", self.worker_id, prompt_id)
            outcome = ("result", {}, crash_status(prompt_id, exc), {})
        put(outcome)  # the server records it while this worker clears up
        self._finish_job()  # a next run() waits for this (see run)

    def _after_job(self) -> None:
        try:
            if self._memory is not None:
                self._memory.on_prompt_end()
            self._release_heap()
        except Exception:
            log.exception("memory clean-up after a job failed")

    def _finish_job(self) -> None:
        try:
            self._scratch.end_job()
        except OSError:
            log.exception("worker %s could not clear its scratch folders", self.worker_id)
        with self._lock:
            request, self._free_after = self._free_after, None
        if request is not None:
            self._apply_free(*request)
        with self._idle:
            self._running = None
            self._idle.notify_all()


class _JobChannel:
    """Where `PromptServer.instance.send_sync` and the like go on a worker: into the
    running job's stream, addressed as the pack asked (the server publishes them)."""

    def __init__(self, actor: WorkerActor) -> None:
        self._actor = actor

    def publish(self, kind: str, data: Any, *, binary: bytes | None = None,
                client_id: str | None = None, routed: bool = True) -> None:
        running = self._actor._running
        if running is None:
            log.debug("plugin event %r dropped: no job is running", kind)
            return
        running.items.put(("event", kind, data, binary, client_id))


def _plugin_server(settings: Settings, actor: WorkerActor) -> Any:
    """The worker's `PromptServer.instance` for packs: its routes are never served, its
    events travel with the running job."""
    from aiohttp import web

    from comfy_core.api.plugin_server import PromptServer

    server = PromptServer(None, settings)
    server.attach(web.Application(), _JobChannel(actor), actor)
    return server


def _take(items: queue.Queue, timeout: float) -> list:
    """The next batch: waits up to `timeout` for a first item, then takes what follows for
    up to BATCH_S (or until the result). A quick job crosses to the server as one object;
    a long node's progress still arrives at least every BATCH_S."""
    try:
        batch = [items.get(timeout=timeout)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + BATCH_S
    while batch[-1][0] != "result":
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            batch.append(items.get(timeout=left))
        except queue.Empty:
            break
    return batch


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside Ray (a test building the class directly)
        return None
