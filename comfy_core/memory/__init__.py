"""Devices, dtypes, model budgets and low-VRAM layer streaming (model side of the torch line)."""

from comfy_core.memory.devices import (
    DtypeChoice,
    MemoryInfo,
    ModelKind,
    available_devices,
    choose_dtype,
    default_device,
    device_for,
    memory_info,
    supports_bf16,
    supports_fp16,
)
from comfy_core.memory.manager import MemoryManager
from comfy_core.memory.oom import is_oom
from comfy_core.memory.options import MemoryOptions, VramState
from comfy_core.memory.protocol import ManagedModel
from comfy_core.memory.recovery import BatchSplitter, OomRecovery, retry_on_oom
from comfy_core.memory.streaming import LayerStreaming, module_bytes, stream_layers

__all__ = [
    "BatchSplitter",
    "OomRecovery",
    "DtypeChoice",
    "LayerStreaming",
    "ManagedModel",
    "MemoryInfo",
    "MemoryManager",
    "MemoryOptions",
    "ModelKind",
    "VramState",
    "available_devices",
    "choose_dtype",
    "default_device",
    "device_for",
    "is_oom",
    "memory_info",
    "module_bytes",
    "retry_on_oom",
    "stream_layers",
    "supports_bf16",
    "supports_fp16",
]
