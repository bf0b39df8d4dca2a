"""The worker: one Ray actor per device, with its own registry, executor, node cache and
memory manager. Plain Python here; `comfy_core.cluster.pool` wraps it with `ray.remote`.

`run` runs one job inline on the actor's calling thread and returns the job's stream
items with its reply: a quick job is one Ray round trip and wakes no other thread. For a
job that has not answered within BATCH_S the server opens `events`, that job's channel,
which sends its items while it runs, and beats (see comfy_core.cluster.outbox). Control
calls (`interrupt`, `free`, `stats`) run on the actor's other threads. The clean-up after
a job (scratch folders, memory bookkeeping) is not on the reply's path: the actor's tidy
thread does it SETTLE_AFTER_S after the reply left (so it does not contend with Ray
serializing that reply), or the next `run` first if that comes sooner, or a `free`. The
heap trim and emptying the trash wait for an idle worker (the monitor's `stats` call,
every few seconds) or every TRIM_EVERY jobs.

Stream items: ("event", type, data, binary[, client_id]) | ("file", kind, subfolder,
filename, bytes) | ("result", outputs, status, meta).
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from comfy_core.cluster.outbox import BEAT_S, ChannelBatch, Outbox
from comfy_core.cluster.scratch import Scratch
from comfy_core.jobs.host_memory import heap_trimmer
from comfy_core.jobs.worker import crash_status
from comfy_core.runtime import AppContext, use_app
from comfy_core.settings import Settings

log = logging.getLogger(__name__)

BUSY_WAIT_S = 30.0
SETTLE_AFTER_S = 0.002  # a job's clean-up waits this long for its reply to leave
TRIM_EVERY = 16  # a worker that never idles still gives its free heap back this often
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
        self._running: Outbox | None = None
        self._free_after: tuple[bool, bool] | None = None
        self._held = False  # a job (from its start until it settled) or a free holds it
        self._owed = False  # the last job's clean-up is still to be done
        self._untrimmed = 0  # jobs since the heap was last trimmed
        self._finished: collections.deque[str] = collections.deque(maxlen=64)
        self._early_interrupts: collections.deque[str] = collections.deque(maxlen=64)
        threading.Thread(target=self._tidy_after_jobs, daemon=True, name="tidy").start()
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
        """The worker's device, memory and loaded models (for /system_stats). The server
        asks every few seconds: an idle worker also does its owed clean-up then."""
        import psutil

        self._tidy()

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
        """POST /free: at once when idle, else once the running job settled."""
        with self._idle:
            old = self._free_after or (False, False)
            self._free_after = (old[0] or unload_models, old[1] or free_memory)
        self._settle_owed()  # idle with the last job's clean-up owed: that applies it
        with self._idle:
            if self._held:  # a job (or another free) holds the worker and applies it
                return
            self._held = True
        self._release()

    def request_free(self, request: Any) -> None:
        """A pack's PromptServer.instance asking for /free (a FreeRequest)."""
        self.free(request.unload_models, request.free_memory)

    def _apply_free(self, unload_models: bool, free_memory: bool) -> None:
        try:
            if free_memory:
                self._executor.reset_cache()
            if (unload_models or free_memory) and self._memory is not None:
                self._memory.unload_all()
        except Exception:
            log.exception("worker %s could not free memory", self.worker_id)
            return
        log.info("worker %s freed memory (unload_models=%s, free_memory=%s)", self.worker_id,
                 unload_models, free_memory)

    def _release(self) -> None:
        """Apply the /free requests that came meanwhile, then let the next job in. The
        check and the release are one step: a request after it applies itself."""
        while True:
            with self._idle:
                request, self._free_after = self._free_after, None
                if request is None:
                    self._held = False
                    self._idle.notify_all()
                    return
            self._apply_free(*request)

    # -- jobs -------------------------------------------------------------------------------
    def run(self, job: dict) -> tuple[int, list]:
        """Run one job here and now: (how many of its items went by its event channel,
        the rest, ending with its ("result", ...))."""
        outbox = self._begin(job)
        result = self._execute(job, outbox)
        with self._idle:  # still held: its clean-up is owed (see the module's doc)
            self._running, self._owed = None, True
            self._finished.append(outbox.prompt_id)
            self._idle.notify_all()  # the tidy thread, and an event channel waiting for it (rare)
        return outbox.close(result)

    def events(self, prompt_id: str) -> Iterator[ChannelBatch]:
        """The event channel of job `prompt_id` (see the module's doc), until it ends;
        beats meanwhile if it has not started yet."""
        while True:
            with self._idle:
                self._idle.wait_for(lambda: prompt_id in self._finished or (
                    self._running is not None and self._running.prompt_id == prompt_id),
                    timeout=BEAT_S)
                outbox = self._running
            if outbox is not None and outbox.prompt_id == prompt_id:
                while (batch := outbox.next_batch()) is not None:
                    yield batch
                return
            if prompt_id in self._finished:
                return
            yield prompt_id, 0, []

    def _begin(self, job: dict) -> Outbox:
        """Make the job the running one once the worker is free (the last job's clean-up
        done here if still owed); a /free the server sent before this job (carried with
        it) applies first."""
        self._settle_owed()
        outbox = Outbox(job["prompt_id"])
        with self._idle:
            if not self._idle.wait_for(lambda: not self._held, timeout=BUSY_WAIT_S):
                raise RuntimeError(f"worker {self.worker_id} is still busy (a /free)")
            self._running, self._held = outbox, True
            if outbox.prompt_id in self._early_interrupts:
                outbox.interrupt.set()
            self._idle.notify_all()  # its event channel, if already open (rare)
        if job.get("free"):
            self._apply_free(*job["free"])
        return outbox

    def _execute(self, job: dict, outbox: Outbox) -> tuple:
        """The job's ("result", ...) item; its events and files go into `outbox`."""
        put = outbox.put
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
                                            job["outputs"], emit, outbox.interrupt)
            for ui in result.outputs.values():
                self._scratch.ship_ui(ui, put)
            self._scratch.ship_rest(put)
            status = {"status_str": result.status_str, "completed": result.completed,
                      "messages": result.messages}
            return ("result", result.outputs, status, result.meta)
        except BaseException as exc:  # never leave the server without a result
            log.exception("worker %s failed around job %s", self.worker_id, prompt_id)
            return ("result", {}, crash_status(prompt_id, exc), {})

    def _tidy(self) -> None:
        """On an idle worker: the owed clean-up, the heap trimmed, then old files deleted
        (until a job starts)."""
        self._settle_owed()
        if self._untrimmed and self._running is None:
            self._untrimmed = 0
            self._release_heap()
        self._scratch.empty_trash(lambda: self._running is not None)

    def _tidy_after_jobs(self) -> None:
        """The tidy thread: each job's clean-up, soon after its reply left."""
        while True:
            with self._idle:
                self._idle.wait_for(lambda: self._owed)
            time.sleep(SETTLE_AFTER_S)
            self._settle_owed()

    def _settle_owed(self) -> None:
        """The last job's clean-up, unless done (or being done) already."""
        with self._idle:
            if not self._owed:
                return
            self._owed = False
        self._settle()

    def _settle(self) -> None:
        """After a job's reply: memory and scratch clean-up, then the /free requests that
        waited, then the next job may start (whatever of this failed). The heap is
        trimmed when the worker idles (`_tidy`), or here every TRIM_EVERY jobs."""
        try:
            if self._memory is not None:
                self._memory.on_prompt_end()
            self._untrimmed += 1
            if self._untrimmed >= TRIM_EVERY:
                self._untrimmed = 0
                self._release_heap()
            self._scratch.end_job()
        except Exception:
            log.exception("worker %s: clean-up after a job failed", self.worker_id)
        finally:
            self._release()


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
        running.put(("event", kind, data, binary, client_id))


def _plugin_server(settings: Settings, actor: WorkerActor) -> Any:
    """The worker's `PromptServer.instance` for packs: its routes are never served, its
    events travel with the running job."""
    from aiohttp import web

    from comfy_core.api.plugin_server import PromptServer

    server = PromptServer(None, settings)
    server.attach(web.Application(), _JobChannel(actor), actor)
    return server


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside Ray (a test building the class directly)
        return None
