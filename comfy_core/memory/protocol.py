"""What the memory manager needs from a model handle; it never sees UNet or VAE classes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class ManagedModel(Protocol):
    """A model whose weights can move between host memory and a compute device.

    Implementations must be weak-referenceable (ordinary classes are): the manager holds
    only weak references, so a model dropped by the cache frees its memory.
    """

    @property
    def device(self) -> torch.device:
        """Where the model computes now (its offload device when offloaded)."""
        ...

    def model_size(self) -> int:
        """Bytes of all weights (parameters and buffers), wherever they are."""
        ...

    def loaded_size(self) -> int:
        """Bytes of weights resident on the compute device now (0 when offloaded)."""
        ...

    def load(self, device: torch.device, budget_bytes: int | None = None) -> None:
        """Move (and patch) the weights to `device`. With a budget, only about that many
        bytes stay resident and the rest stream to the device per layer at forward time
        (see comfy_core.memory.streaming). Calling again with another budget re-plans."""
        ...

    def offload(self) -> None:
        """Move every weight back to the offload device (host memory)."""
        ...
