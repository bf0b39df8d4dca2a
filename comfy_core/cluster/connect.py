"""Reaching Ray: importing it, checking the address, starting or joining a cluster.

Every failure here stops the server at start with one clear sentence (ClusterStartError):
Ray not installed (with the pip command), an address nothing answers on, a cluster Ray
cannot join.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from comfy_core.settings import ClusterFlags, is_loopback

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
RAY_REQUIREMENT = "ray>=2.40,<3"
PROBE_TIMEOUT_S = 5.0
DEFAULT_RAY_PORT = 6379
# Read when ray is imported: "0" makes Ray use the loopback address as this node's own.
LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterStartError(RuntimeError):
    """The cluster cannot be used; the message says why and what to do."""


def import_ray() -> Any:
    """The `ray` module, or ClusterStartError with the command that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterStartError(
            f"--ray needs the 'ray' package, which is not installed ({exc}). Install it "
            f"with: {sys.executable} -m pip install -r {ROOT / 'requirements-cluster.txt'} "
            f"(or: pip install \"{RAY_REQUIREMENT}\")") from exc
    return ray


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """The host of `address` (HOST:PORT or ray://HOST:PORT) once something accepts TCP
    connections there, else ClusterStartError (Ray itself would retry for minutes)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port or DEFAULT_RAY_PORT
    except ValueError as exc:
        raise ClusterStartError(f"--ray {address!r} is not a valid address: {exc}") from exc
    if not host:
        raise ClusterStartError(f"--ray {address!r} is not an address: use 'local', 'auto', "
                                "HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return host
    except OSError as exc:
        raise ClusterStartError(
            f"cannot reach a Ray cluster at {address} ({host}:{port}: {exc}). Start one there "
            "with `ray start --head`, check the address and firewall, or use --ray local"
        ) from exc


def runtime_env() -> dict:
    """What every worker process needs: this project importable (the same path on every
    node, as with one container image), usage statistics off."""
    path = os.pathsep.join([str(ROOT / "compat"), str(ROOT)])  # as server.py sets sys.path
    return {"env_vars": {"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}}


def connect(flags: ClusterFlags) -> Any:
    """Start (`local`) or join the cluster; returns the `ray` module, connected."""
    address = flags.address or "local"
    host = probe(address) if address not in ("local", "auto") else None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address == "local" or (host is not None and is_loopback(host)):
        # Ray would otherwise announce this machine's network address for the node; a
        # private cluster (or one bound to loopback) must stay on 127.0.0.1.
        os.environ.setdefault(LOOPBACK_ONLY_ENV, "0")
    ray = import_ray()
    common = {"runtime_env": runtime_env(), "namespace": "comfy", "log_to_driver": True,
              "logging_level": logging.WARNING, "configure_logging": False}
    try:
        if address == "local":  # always a new, private cluster (never one found on disk)
            cpus = math.ceil(flags.workers * flags.worker_cpus) if flags.workers else None
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     object_store_memory=flags.object_store_mb * 1024 * 1024,
                     _node_ip_address="127.0.0.1", **common)
        else:
            ray.init(address=address, **common)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError from ray.init
        raise ClusterStartError(f"cannot join the Ray cluster at {address}: "
                                f"{type(exc).__name__}: {exc}") from exc
    log.info("Ray %s: %s", ray.__version__, _describe(ray))
    return ray


def _describe(ray: Any) -> str:
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return (f"{len(nodes)} node(s), {resources.get('CPU', 0):g} CPU, "
            f"{resources.get('GPU', 0):g} GPU")
