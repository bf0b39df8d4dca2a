"""The cluster as the server sees it: Ray connected, the worker pool, the file sink, the
merged file index, and what the app asks of it (the dispatcher as its worker, crash
recovery, the submit check, /system_stats devices).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any, Callable

from comfy_core.cluster.connect import ClusterStartError, connect
from comfy_core.cluster.dispatcher import MAX_ATTEMPTS, Dispatcher
from comfy_core.cluster.folders import ClusterFolderPaths
from comfy_core.cluster.inputs import input_files
from comfy_core.cluster.pool import WorkerHandle, WorkerPool
from comfy_core.cluster.refs import (
    Requirements,
    folders_by_name,
    merge_indexes,
    requirements_of,
)
from comfy_core.cluster.refusal import refusal_body, refusal_message
from comfy_core.cluster.transfer import FileSink
from comfy_core.jobs import JobStore
from comfy_core.jobs.worker import Publish
from comfy_core.runtime.plugin_host import plugin_host_or_none
from comfy_core.services import BaseServices, Services, complete_services
from comfy_core.settings import Settings

log = logging.getLogger(__name__)

MONITOR_S = 2.0  # stats and liveness of idle workers
FILES_REFRESH_S = 30.0
STATS_TIMEOUT_S = 5.0


class Cluster:
    """Connected at construction (`start`); the workers come up in the background."""

    def __init__(self, ray: Any, settings: Settings) -> None:
        self.ray = ray
        self.settings = settings
        self.flags = settings.cluster
        self.pool = WorkerPool(ray, settings)
        self.store: JobStore | None = None
        self.sink: FileSink | None = None
        self._folders: Any = None  # the server's FolderPaths
        self._stats: dict[str, dict] = {}
        self._known: tuple[tuple, dict] = ((), {})
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._monitor: threading.Thread | None = None

    @classmethod
    def start(cls, settings: Settings) -> Cluster:
        """Connect (or raise ClusterStartError) and start placing the workers."""
        ray = connect(settings.cluster)
        cluster = cls(ray, settings)
        try:
            cluster.pool.start()
        except ClusterStartError:
            ray.shutdown()
            raise
        return cluster

    def build_services(self, base: BaseServices) -> Services:
        """The server's Services (no memory manager: models load on the workers) with the
        cluster's folder view; waits for the workers' file lists."""
        services = complete_services(base, with_memory=False)
        self.store, self._folders = services.store, services.folders
        self.sink = FileSink(services.folders)
        ready = self.pool.wait_ready(timeout=600.0)
        if not ready:
            raise ClusterStartError("no worker of the Ray cluster started; see the log")
        log.info("%d worker(s) ready: %s", len(ready),
                 ", ".join(f"{h.worker_id} ({h.hostname}, {h.device})" for h in ready))
        self._monitor = threading.Thread(target=self._watch, name="cluster-monitor",
                                         daemon=True)
        self._monitor.start()
        folders = ClusterFolderPaths(services.folders, self.file_index)
        host = plugin_host_or_none()
        if host is not None:  # plugins' folder_paths lists what the workers have, too
            host.folders = folders
        return dataclasses.replace(services, folders=folders, cluster=self,
                                   device_stats=self.device_stats)

    # -- what the app asks ------------------------------------------------------------------
    def make_worker(self, publish: Publish, status_changed: Callable[[], None]) -> Dispatcher:
        return Dispatcher(self, publish, status_changed)

    def recover(self, store: JobStore) -> list[tuple[str, str]]:
        """Jobs running when the server stopped were lost with their workers: re-queued
        unless that was their last attempt."""
        return store.recover(requeue=self.settings.requeue_running, max_attempts=MAX_ATTEMPTS)

    def runnable(self, prompt: dict) -> bool:
        """Whether a ready worker can run `prompt` by what it last reported (quick: no
        call to the workers, so the submit path asks this first, on its own thread)."""
        needs = self.requirements(prompt)
        return any(h.caps.can_run(needs) for h in self.pool.ready())

    def refusal(self, prompt: dict) -> dict | None:
        """The 400 body for a prompt no worker can run (files refreshed once first)."""
        if self.runnable(prompt):
            return None
        self.refresh_files()
        needs = self.requirements(prompt)
        workers = self.pool.ready()
        if any(h.caps.can_run(needs) for h in workers) or (not workers and self.pool.starting()):
            return None
        return refusal_body(needs, workers)

    def refusal_message(self, needs: Requirements, workers: list[WorkerHandle]) -> str:
        return refusal_message(needs, workers)

    def device_stats(self) -> list[dict]:
        """/system_stats devices: one entry per worker with its device, memory, loaded
        models and the model files its recent jobs loaded."""
        with self._lock:
            stats = dict(self._stats)
        devices = []
        for handle in sorted(self.pool.ready(), key=lambda h: h.worker_id):
            entry = stats.get(handle.worker_id, {})
            device = entry.get("device") or {"name": handle.device, "type": "unknown",
                                             "index": None}
            devices.append({**device, "worker": handle.worker_id, "hostname": handle.hostname,
                            "running": handle.busy, "loaded": entry.get("loaded", []),
                            "model_files": sorted(handle.held),
                            "ram_total": entry.get("ram_total"),
                            "ram_free": entry.get("ram_free")})
        return devices

    # -- files -----------------------------------------------------------------------------
    def file_index(self) -> dict[str, frozenset[str]]:
        """folder -> file names any ready worker can load."""
        return merge_indexes(h.caps.files for h in self.pool.ready())

    def requirements(self, prompt: dict) -> Requirements:
        return requirements_of(prompt, self._known_files())

    def _known_files(self) -> dict[str, frozenset[str]]:
        """file name -> folders over the ready workers, rebuilt when their lists change."""
        handles = self.pool.ready()
        key = tuple((h.worker_id, id(h.caps)) for h in handles)
        with self._lock:
            if self._known[0] != key:
                self._known = (key, folders_by_name(merge_indexes(h.caps.files
                                                                  for h in handles)))
            return self._known[1]

    def input_files(self, prompt: dict) -> dict[str, dict[str, bytes]]:
        return input_files(prompt, self._folders)

    def refresh_files(self) -> None:
        """Ask every ready worker for its model files again (new files on a node)."""
        handles = self.pool.ready()
        refs = {h.actor.files.remote(): h for h in handles}
        done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=STATS_TIMEOUT_S)
        for ref in done:
            handle = refs[ref]
            try:
                files = self.ray.get(ref)
            except self.ray.exceptions.RayError:
                continue
            handle.caps = dataclasses.replace(
                handle.caps, files={k: frozenset(v) for k, v in files.items()})

    # -- monitoring --------------------------------------------------------------------------
    def _watch(self) -> None:
        since_files = 0.0
        while not self._stopped.wait(MONITOR_S):
            try:
                self._poll_stats()
                since_files += MONITOR_S
                if since_files >= FILES_REFRESH_S:
                    since_files = 0.0
                    self.refresh_files()
            except Exception:
                log.exception("cluster monitor failed; continuing")

    def _poll_stats(self) -> None:
        """Stats of every ready worker; an idle worker whose actor died is replaced (a busy
        one is settled by its job's stream)."""
        handles = self.pool.ready()
        refs = {h.actor.stats.remote(): h for h in handles}
        if not refs:
            return
        done, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=STATS_TIMEOUT_S)
        fresh = {}
        for ref in done:
            handle = refs[ref]
            try:
                fresh[handle.worker_id] = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as exc:
                if handle.busy is None and handle.alive:
                    log.error("%s died while idle (%s); replacing it", handle.worker_id,
                              str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                    self.pool.replace(handle)
            except self.ray.exceptions.RayError:
                continue
        with self._lock:
            self._stats = fresh

    def shutdown(self) -> None:
        """Stop monitoring, kill the workers, disconnect (a `local` cluster stops)."""
        self._stopped.set()
        self.pool.shutdown()
        try:
            self.ray.shutdown()
        except Exception:
            log.exception("ray.shutdown failed")
