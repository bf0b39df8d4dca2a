"""The answer to a prompt no worker can run: which files (or node types) are missing, and
where the ones that exist are, in ComfyUI's error shape with per-node errors."""

from __future__ import annotations

from typing import Sequence

from comfy_core.cluster.pool import WorkerHandle
from comfy_core.cluster.refs import Requirements

ERROR_TYPE = "no_worker_for_prompt"


def refusal_message(needs: Requirements, workers: Sequence[WorkerHandle]) -> str:
    """One sentence naming every file (and node type) that keeps each worker out."""
    if not workers:
        return "no worker of the cluster is running"
    where = []
    for ref in needs.refs:
        holders = [h.worker_id for h in workers if h.caps.has(ref)]
        folders = ", ".join(sorted(ref.folders))
        where.append(f"{ref.name!r} ({folders}) is on {', '.join(holders)}" if holders
                     else f"no worker has {ref.name!r} ({folders})")
    types = sorted(t for t in needs.node_types
                   if not all(t in h.caps.node_types for h in workers))
    where += [f"node type {t!r} is only on "
              f"{', '.join(h.worker_id for h in workers if t in h.caps.node_types) or 'none'}"
              for t in types]
    detail = "; ".join(where) if where else "its requirements match no worker"
    return f"no worker of the cluster has everything this prompt needs: {detail}"


def refusal_body(needs: Requirements, workers: Sequence[WorkerHandle]) -> dict:
    """The 400 body: `error` plus `node_errors` for each node naming a missing file."""
    message = refusal_message(needs, workers)
    node_errors: dict[str, dict] = {}
    for ref in needs.refs:
        if all(h.caps.has(ref) for h in workers):
            continue
        entry = node_errors.setdefault(ref.node_id, {"errors": [], "dependent_outputs": [],
                                                     "class_type": ref.class_type})
        entry["errors"].append({
            "type": ERROR_TYPE, "message": "Model file not on every worker",
            "details": f"{ref.input_name}: {ref.name!r} is not on a worker that has the "
                       "prompt's other files",
            "extra_info": {"input_name": ref.input_name, "file": ref.name,
                           "folders": sorted(ref.folders)}})
    return {"error": {"type": ERROR_TYPE, "message": message, "details": message,
                      "extra_info": {"files": sorted(needs.files)}},
            "node_errors": node_errors}
