"""Placing worker actors on the cluster's nodes and replacing the ones that die.

Workers go round-robin over the alive nodes that have room: one GPU each on a cluster
with GPUs (Ray then gives the actor exactly that device), else `worker_cpus` CPUs each.
Each worker is pinned to its node, so its models and node cache stay where it is.
A replacement is started on the same node when that node is still alive.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from comfy_core.cluster.actor import WorkerActor
from comfy_core.cluster.connect import ClusterStartError
from comfy_core.cluster.refs import WorkerCaps
from comfy_core.settings import Settings

log = logging.getLogger(__name__)

ACTOR_THREADS = 10  # run, the event channel, interrupt, free, stats, files at the same time
READY_TIMEOUT_S = 300.0


@dataclass
class WorkerHandle:
    """The server's record of one worker actor."""

    worker_id: str
    actor: Any
    node_id: str | None
    options: dict
    info_ref: Any = None  # pending info() while starting
    started: float = field(default_factory=time.monotonic)
    hostname: str = ""
    pid: int | None = None
    device: str = ""
    caps: WorkerCaps = field(default_factory=lambda: WorkerCaps({}, frozenset()))
    ready: bool = False
    alive: bool = True
    busy: str | None = None  # prompt id
    last_used: float = 0.0
    recent: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1))

    @property
    def held(self) -> frozenset[str]:
        return frozenset().union(*self.recent) if self.recent else frozenset()

    def adopt(self, info: dict) -> None:
        self.hostname, self.device, self.pid = info["hostname"], info["device"], info["pid"]
        self.node_id = info.get("node_id") or self.node_id
        self.caps = WorkerCaps({k: frozenset(v) for k, v in info["files"].items()},
                               frozenset(info["node_types"]))
        self.ready = True


def held_depth(cache_kind: str) -> int:
    """How many recent jobs' model files a worker's node cache keeps loaded."""
    return {"classic": 1, "none": 0}.get(cache_kind, 4)


class WorkerPool:
    """The worker actors of one server. Thread-safe (one lock over the handles)."""

    def __init__(self, ray: Any, settings: Settings) -> None:
        self._ray = ray
        self._settings = settings
        self._remote = ray.remote(WorkerActor)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._handles: dict[str, WorkerHandle] = {}

    # -- placement ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers (asynchronously: `poll` adopts them as they come up)."""
        placements = self._plan()
        if not placements:
            raise ClusterStartError(self._no_room())
        wanted = self._settings.cluster.workers
        if wanted and len(placements) < wanted:
            log.warning("the cluster has room for %d of the %d workers asked for",
                        len(placements), wanted)
        for node_id, options in placements:
            self._spawn(node_id, options)

    def _plan(self) -> list[tuple[str, dict]]:
        flags = self._settings.cluster
        nodes = sorted((n for n in self._ray.nodes() if n.get("Alive")),
                       key=lambda n: n["NodeID"])
        use_gpu = sum(n["Resources"].get("GPU", 0) for n in nodes) >= 1
        room = {n["NodeID"]: int(n["Resources"].get("GPU", 0)) if use_gpu
                else int(n["Resources"].get("CPU", 0) // flags.worker_cpus + 1e-9)
                for n in nodes}
        wanted = flags.workers or (sum(room.values()) if use_gpu else 1)
        options = {"num_cpus": flags.worker_cpus, "num_gpus": 1 if use_gpu else 0}
        placements: list[tuple[str, dict]] = []
        while len(placements) < wanted and any(room.values()):
            for node_id in [k for k, v in room.items() if v > 0]:
                if len(placements) < wanted:
                    placements.append((node_id, options))
                    room[node_id] -= 1
        return placements

    def _no_room(self) -> str:
        flags = self._settings.cluster
        return (f"no node of the Ray cluster has room for a worker (each needs one GPU, or "
                f"{flags.worker_cpus:g} CPU when the cluster has no GPU; see --ray-worker-cpus)")

    def _spawn(self, node_id: str | None, options: dict, *, soft: bool = False) -> WorkerHandle:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        worker_id = f"worker-{next(self._ids)}"
        strategy = (NodeAffinitySchedulingStrategy(node_id, soft=soft)
                    if node_id is not None else "DEFAULT")
        actor = self._remote.options(max_concurrency=ACTOR_THREADS, max_restarts=0,
                                     scheduling_strategy=strategy, **options
                                     ).remote(worker_id, self._settings)
        handle = WorkerHandle(worker_id, actor, node_id, options, info_ref=actor.info.remote())
        handle.recent = collections.deque(maxlen=held_depth(self._settings.cache_kind))
        with self._lock:
            self._handles[worker_id] = handle
        log.info("starting %s on node %s", worker_id, node_id or "(any)")
        return handle

    # -- lifecycle -----------------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> list[WorkerHandle]:
        """Adopt workers whose start finished; drop those whose start failed or never
        got placed in READY_TIMEOUT_S. Returns the newly ready ones."""
        with self._lock:
            starting = [h for h in self._handles.values() if h.alive and not h.ready]
        if not starting:
            return []
        done, _ = self._ray.wait([h.info_ref for h in starting], num_returns=len(starting),
                                 timeout=timeout)
        ready = []
        for handle in starting:
            if handle.info_ref in done:
                try:
                    handle.adopt(self._ray.get(handle.info_ref))
                    ready.append(handle)
                    log.info("%s ready on %s (%s)", handle.worker_id, handle.hostname,
                             handle.device)
                except Exception as exc:
                    log.error("%s failed to start: %s", handle.worker_id, exc)
                    self._drop(handle)
            elif time.monotonic() - handle.started > READY_TIMEOUT_S:
                log.error("%s could not be placed in %.0f s; giving up on it",
                          handle.worker_id, READY_TIMEOUT_S)
                self._drop(handle)
        return ready

    def wait_ready(self, timeout: float) -> list[WorkerHandle]:
        """Block until every starting worker is ready or dropped (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.starting() and time.monotonic() < deadline:
            self.poll(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        return self.ready()

    def replace(self, handle: WorkerHandle) -> WorkerHandle | None:
        """Kill `handle`'s actor (dead or hung) and start another on its node if alive;
        None when it was already replaced."""
        with self._lock:
            if not handle.alive:
                return None
            self._drop(handle)
        alive = {n["NodeID"] for n in self._ray.nodes() if n.get("Alive")}
        node = handle.node_id if handle.node_id in alive else None
        return self._spawn(node, handle.options, soft=True)

    def _drop(self, handle: WorkerHandle) -> None:
        with self._lock:
            handle.alive = False
            self._handles.pop(handle.worker_id, None)
        try:
            self._ray.kill(handle.actor, no_restart=True)
        except Exception as exc:  # already gone
            log.debug("kill %s: %s", handle.worker_id, exc)

    def shutdown(self) -> None:
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            self._drop(handle)

    # -- views ----------------------------------------------------------------------------
    def ready(self) -> list[WorkerHandle]:
        with self._lock:
            return [h for h in self._handles.values() if h.alive and h.ready]

    def starting(self) -> list[WorkerHandle]:
        with self._lock:
            return [h for h in self._handles.values() if h.alive and not h.ready]

    def get(self, worker_id: str) -> WorkerHandle | None:
        with self._lock:
            return self._handles.get(worker_id)
