"""Worker: an interrupt sent as soon as a job shows as running reaches that job."""

import threading
from types import SimpleNamespace

from comfy_core.jobs import JobStore
from comfy_core.jobs.worker import Worker


class InterruptOnClaim(JobStore):
    """Sends /interrupt from another thread the moment a job is claimed (so /queue would
    already list it as running), before the worker has started it."""

    worker: Worker
    answers: list

    def claim(self, worker_id, lease_s=60.0):
        job = super().claim(worker_id, lease_s)
        if job is not None:
            sender = threading.Thread(target=lambda: self.answers.append(self.worker.interrupt()))
            sender.start()
            sender.join(0.2)  # lets an unguarded interrupt() run now, in the gap
        return job


class WaitsForInterrupt:
    def __init__(self) -> None:
        self.seen: list[bool] = []

    def run(self, prompt, prompt_id, extra_data, outputs, emit, interrupt):
        self.seen.append(interrupt.wait(5))
        return SimpleNamespace(status_str="error", completed=False, messages=[], outputs={},
                               meta={})

    def reset_cache(self) -> None:
        pass


def test_interrupt_between_claim_and_start_reaches_the_job(tmp_path):
    store = InterruptOnClaim(tmp_path / "jobs.sqlite3")
    store.answers = []
    executor = WaitsForInterrupt()
    finished = threading.Event()
    worker = Worker(store, executor, lambda *a: None, release_heap=finished.set)
    store.worker = worker
    store.submit("p0", {"1": {"class_type": "X", "inputs": {}}}, {}, ["1"])
    worker.start()
    try:
        assert finished.wait(30)
    finally:
        worker.stop()
        store.close()
    assert store.answers == [True]
    assert executor.seen == [True]
