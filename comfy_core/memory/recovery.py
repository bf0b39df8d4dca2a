"""Out of memory as an event: free what can be freed, retry in a cheaper mode, and only
then fail with a clear error.

Three tools, cheapest first:
- `BatchSplitter` wraps a batched call (the UNet: cond and uncond halves of a CFG batch,
  several latents) and, on OOM, runs it in halves, then quarters, ..., remembering the
  size that worked so the next sampling step does not fail first;
- `OomRecovery.run_streaming` re-runs a whole step with the model partly, then fully,
  layer-streamed (COMPAT 10.3 partial loading), freeing activation room;
- `OomRecovery.run` tries fallbacks such as tiled VAE decoding.
Retries always start outside the `except` block, so the failed attempt's frames (and the
tensors they hold) are gone before memory is asked for again.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import torch

from comfy_core.memory.oom import is_oom
from comfy_core.memory.protocol import ManagedModel

log = logging.getLogger(__name__)

T = TypeVar("T")

# Fractions of a model's resident bytes kept on the device by the streaming retries.
STREAMING_STEPS = (0.5, 0.0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def retry_on_oom(attempts: Sequence[Callable[[], T]], on_oom: Callable[[], None], what: str) -> T:
    """Run `attempts` in order until one returns; only out-of-memory errors move on, and
    `on_oom()` runs before each retry. When all fail, raise torch.OutOfMemoryError naming
    `what` and what was tried (ComfyUI clients read that exception type)."""
    if not attempts:
        raise ValueError("retry_on_oom needs at least one attempt")
    last = ""
    for number, attempt in enumerate(attempts, start=1):
        if number > 1:
            on_oom()
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 - filtered by is_oom, others re-raised
            if not is_oom(exc):
                raise
            last = _first_line(exc)
            log.warning("out of memory in %s (attempt %d of %d): %s", what, number, len(attempts), last)
    raise torch.OutOfMemoryError(
        f"Out of memory in {what}: still failing after {len(attempts)} attempts, freeing other "
        f"models and trying cheaper modes each time. Last error: {last}. Use a smaller image or "
        f"batch, or start with --lowvram / --novram."
    )


def _batch_of(args: Sequence[Any]) -> int | None:
    """Batch size of the first tensor argument (None when there is none)."""
    for a in args:
        if isinstance(a, torch.Tensor) and a.ndim > 0:
            return int(a.shape[0])
    return None


def _slice(args: Sequence[Any], batch: int, start: int, stop: int) -> list[Any]:
    """Rows [start, stop) of every tensor argument with `batch` rows; others unchanged."""
    return [a[start:stop] if isinstance(a, torch.Tensor) and a.ndim > 0 and a.shape[0] == batch else a
            for a in args]


class BatchSplitter:
    """fn(*args) -> Tensor over tensors sharing batch dim 0 (None and other values pass
    through), run in smaller chunks after an OOM. Chunks give the same result as the whole
    batch for per-sample networks such as the UNet (GroupNorm and attention never mix
    samples). `max_batch` is the chunk size that last worked (None: whole batches)."""

    def __init__(self, fn: Callable[..., torch.Tensor], on_oom: Callable[[], None]) -> None:
        self.fn = fn
        self.on_oom = on_oom
        self.max_batch: int | None = None

    def __call__(self, *args: Any) -> torch.Tensor:
        batch = _batch_of(args)
        if batch is None:
            return self.fn(*args)
        size = batch if self.max_batch is None else min(batch, self.max_batch)
        while True:
            try:
                return self._run(args, batch, size)
            except Exception as exc:  # noqa: BLE001 - filtered by is_oom, others re-raised
                if not is_oom(exc) or size <= 1:
                    raise
                log.warning("out of memory at batch %d (%s); retrying in chunks of %d",
                            size, _first_line(exc), (size + 1) // 2)
            size = (size + 1) // 2
            self.max_batch = size
            self.on_oom()

    def _run(self, args: Sequence[Any], batch: int, size: int) -> torch.Tensor:
        if size >= batch:
            return self.fn(*args)
        first = self.fn(*_slice(args, batch, 0, size))
        out = first.new_empty((batch, *first.shape[1:]))  # one output + one chunk at a time
        out[:size] = first
        del first
        for start in range(size, batch, size):
            out[start : start + size] = self.fn(*_slice(args, batch, start, min(start + size, batch)))
        return out


@dataclass
class OomRecovery:
    """One node's recovery policy. `manager` is the app's MemoryManager (None: no managed
    device, e.g. tests without an app); `keep` are the models the node is using, which
    stay loaded while everything else is offloaded."""

    manager: Any  # comfy_core.memory.MemoryManager | None
    keep: Sequence[ManagedModel] = ()

    def free(self) -> None:
        """Offload every other model and return cached device memory to the driver."""
        if self.manager is None:
            gc.collect()
        else:
            self.manager.release(keep=self.keep)

    def splitter(self, fn: Callable[..., torch.Tensor]) -> BatchSplitter:
        return BatchSplitter(fn, self.free)

    def run(self, fn: Callable[[], T], what: str, fallbacks: Sequence[Callable[[], T]] = ()) -> T:
        """`fn`, then after an OOM each fallback (none given: `fn` once more, with the other
        models gone); a clear torch.OutOfMemoryError at the end."""
        return retry_on_oom([fn, *(fallbacks or [fn])], self.free, what)

    def run_streaming(self, model: ManagedModel, fn: Callable[[], T], what: str) -> T:
        """`fn`; after an OOM again with `model` keeping half, then none, of its resident
        weights on the device (the rest streamed per layer)."""
        if self.manager is None:
            return self.run(fn, what)

        def shrunk(fraction: float) -> Callable[[], T]:
            def attempt() -> T:
                self.manager.shrink(model, fraction)
                return fn()

            return attempt

        try:
            return self.run(fn, what, [shrunk(f) for f in STREAMING_STEPS])
        finally:
            self.manager.uncap(model)
