"""Which free worker takes which pending job (pure; the dispatcher applies the choice).

1. Affinity: a free worker that holds some of a pending job's model files (its last jobs
   loaded them) takes the first such job in queue order, preferring the most files held.
2. Otherwise jobs in queue order go to the least recently used free worker that can run
   them (it has their files and node types).
3. Delay scheduling: a job whose files a *busy* worker holds waits up to `locality_wait`
   seconds for that worker before another one loads the model again, since loading a
   checkpoint usually costs more than a short wait (Spark's "delay scheduling"). A burst
   of jobs for one model therefore starts on its holder and spreads to the other workers
   after that wait; from then on each of them holds the model too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from comfy_core.cluster.refs import Requirements, WorkerCaps


@dataclass(frozen=True)
class WorkerView:
    """The dispatcher's picture of one worker at the moment of choosing."""

    worker_id: str
    free: bool
    last_used: float
    held: frozenset[str]  # model file names its recent jobs loaded
    caps: WorkerCaps


@dataclass(frozen=True)
class PendingJob:
    prompt_id: str
    needs: Requirements
    waited: float  # seconds since the dispatcher first saw it pending


def assign(jobs: Sequence[PendingJob], workers: Sequence[WorkerView], *,
           locality_wait: float) -> list[tuple[str, str]]:
    """(prompt_id, worker_id) pairs for this round; each worker and job at most once."""
    free = sorted((w for w in workers if w.free), key=lambda w: w.last_used)
    # what each busy worker holds, or will hold once this round's jobs start
    busy_held: set[str] = set().union(*(w.held for w in workers if not w.free))
    taken: set[str] = set()
    pairs: list[tuple[str, str]] = []

    def give(job: PendingJob, worker: WorkerView) -> None:
        pairs.append((job.prompt_id, worker.worker_id))
        taken.add(job.prompt_id)
        free.remove(worker)
        busy_held.update(job.needs.files)

    for worker in list(free):  # 1. affinity
        best = _affine_job(worker, [j for j in jobs if j.prompt_id not in taken])
        if best is not None:
            give(best, worker)
    for job in jobs:  # 2. least recently used, 3. unless a busy holder is worth the wait
        if not free:
            break
        if job.prompt_id in taken:
            continue
        if job.needs.files & busy_held and job.waited < locality_wait:
            continue
        worker = next((w for w in free if w.caps.can_run(job.needs)), None)
        if worker is not None:
            give(job, worker)
    return pairs


def _affine_job(worker: WorkerView, jobs: Sequence[PendingJob]) -> PendingJob | None:
    best, best_score = None, 0
    for job in jobs:
        score = len(job.needs.files & worker.held)
        if score > best_score and worker.caps.can_run(job.needs):
            best, best_score = job, score
    return best
