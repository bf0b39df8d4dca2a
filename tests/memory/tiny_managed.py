"""A small but real ManagedModel over an nn.Module, used by the memory tests.

On the CPU the compute and offload devices are the same, so residency is tracked by
state: full load, partial load (layer streaming within the budget) or offloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from comfy_core.memory.streaming import LayerStreaming, module_bytes, stream_layers

CPU = torch.device("cpu")


class TinyManagedModel:
    def __init__(self, module: nn.Module, name: str = "model") -> None:
        self.module = module
        self.name = name
        self._device = CPU
        self._loaded = False
        self._streaming: LayerStreaming | None = None
        self.load_calls: list[int | None] = []
        self.offload_calls = 0

    def __repr__(self) -> str:
        return f"TinyManagedModel({self.name})"

    @property
    def device(self) -> torch.device:
        return self._device

    def model_size(self) -> int:
        return module_bytes(self.module)

    def loaded_size(self) -> int:
        if not self._loaded:
            return 0
        if self._streaming is not None:
            return self._streaming.resident_bytes
        return self.model_size()

    def load(self, device: torch.device, budget_bytes: int | None = None) -> None:
        self.load_calls.append(budget_bytes)
        self._stop_streaming()
        if budget_bytes is None or budget_bytes >= self.model_size():
            self.module.to(device)
        else:
            self._streaming = stream_layers(self.module, device, budget_bytes)
        self._device = torch.device(device)
        self._loaded = True

    def offload(self) -> None:
        self.offload_calls += 1
        self._stop_streaming()
        self.module.to(CPU)
        self._device = CPU
        self._loaded = False

    def _stop_streaming(self) -> None:
        if self._streaming is not None:
            self._streaming.undo()
            self._streaming = None


def linear_stack(n_layers: int, width: int = 8, seed: int = 0) -> nn.Sequential:
    """n Linear(width, width) layers: each holds (width*width + width) * 4 bytes."""
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(width, width) for _ in range(n_layers)]).eval()


LINEAR8_BYTES = (8 * 8 + 8) * 4  # 288
