"""A budget-enforcing fake device for out-of-memory tests on the CPU.

Inside `BudgetedDevice(free_bytes)`, every aten op that allocates (views do not) checks
the bytes of its outputs against `free_bytes()`, typically a MemoryManager with a faked
`total_memory` minus the weights it has loaded, and raises a real torch.OutOfMemoryError
when they do not fit, just as the CUDA caching allocator would.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class BudgetedDevice(TorchDispatchMode):
    def __init__(self, free_bytes: Callable[[], int]) -> None:
        super().__init__()
        self.free_bytes = free_bytes
        self.ooms = 0
        self.largest = 0  # largest allocation that fitted

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if getattr(func, "is_view", False):
            return out
        tensors = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        nbytes = sum(t.numel() * t.element_size() for t in tensors)
        free = self.free_bytes()
        if nbytes > free:
            self.ooms += 1
            raise torch.OutOfMemoryError(
                f"fake device out of memory: tried to allocate {nbytes} bytes in {func}, {free} free")
        self.largest = max(self.largest, nbytes)
        return out
