"""Device discovery, memory queries and dtype choice per model kind (COMPAT 10.3).

All functions take the device explicitly; nothing here caches or chooses a global device.
"""

from __future__ import annotations

import enum
import gc
import platform
from dataclasses import dataclass

import psutil
import torch

from comfy_core.memory.options import MIB, MemoryOptions, VramState

CPU = torch.device("cpu")


class ModelKind(str, enum.Enum):
    """The roles whose dtype and device rules differ."""

    UNET = "unet"
    VAE = "vae"
    TEXT_ENCODER = "text_encoder"


@dataclass(frozen=True)
class MemoryInfo:
    """Bytes on one device; `torch_*` is the allocator's own pool (reserved, reserved-unused)."""

    total: int
    free: int
    torch_total: int
    torch_free: int


@dataclass(frozen=True)
class DtypeChoice:
    """Weights are stored in `storage` and cast per layer to `compute` when they differ."""

    storage: torch.dtype
    compute: torch.dtype

    @property
    def manual_cast(self) -> bool:
        return self.storage != self.compute


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[torch.device]:
    """Every compute device torch can reach: CUDA devices, then MPS, then the CPU."""
    devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    if mps_available():
        devices.append(torch.device("mps"))
    devices.append(CPU)
    return devices


def default_device(options: MemoryOptions) -> torch.device:
    """The first accelerator, or the CPU when none exists or `--cpu` was given."""
    if options.vram_state == VramState.DISABLED:
        return CPU
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if mps_available():
        return torch.device("mps")
    return CPU


def device_name(device: torch.device) -> str:
    """The /system_stats device name, e.g. 'cuda:0 NVIDIA H100 : native'."""
    if device.type == "cuda":
        backend = torch.cuda.get_allocator_backend()
        return f"{device} {torch.cuda.get_device_name(device)} : {backend}"
    return device.type


def memory_info(device: torch.device) -> MemoryInfo:
    """Total and free bytes; free counts the allocator's reserved-but-unused pool as free."""
    if device.type == "cuda":
        driver_free, total = torch.cuda.mem_get_info(device)
        reserved = torch.cuda.memory_reserved(device)
        torch_free = reserved - torch.cuda.memory_allocated(device)
        return MemoryInfo(total, driver_free + torch_free, reserved, torch_free)
    ram = psutil.virtual_memory()
    if device.type == "mps":
        driver = torch.mps.driver_allocated_memory()
        torch_free = max(0, driver - torch.mps.current_allocated_memory())
        return MemoryInfo(ram.total, ram.available + torch_free, driver, torch_free)
    return MemoryInfo(ram.total, ram.available, ram.total, ram.available)


def empty_cache(device: torch.device) -> None:
    """Return the allocator's unused cached blocks to the driver (no-op on the CPU)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
    elif device.type == "mps":
        torch.mps.empty_cache()


def default_reserve_bytes(total_bytes: int) -> int:
    """COMPAT 10.3: 400 MB on Linux/macOS, 600 MB on Windows (+100 MB on >= 16 GB cards)."""
    if platform.system() == "Windows":
        return (700 if total_bytes >= 16 * 1024 * MIB else 600) * MIB
    return 400 * MIB


def supports_fp16(device: torch.device) -> bool:
    """Fast fp16 compute: NVIDIA compute capability >= 7 (not GTX 16xx), any MPS, never CPU."""
    if device.type == "mps":
        return True
    if device.type != "cuda":
        return False
    if torch.version.hip is not None:
        return True
    major, _ = torch.cuda.get_device_capability(device)
    if major >= 8:
        return True
    if major < 7:
        return False
    name = torch.cuda.get_device_name(device)
    return not any(f"GTX 16{n}" in name for n in range(5, 7)) and "T1200" not in name


def supports_bf16(device: torch.device) -> bool:
    """bf16 compute: CUDA on Ampere (compute capability 8) or newer."""
    if device.type != "cuda":
        return False
    if torch.version.hip is not None:
        return torch.cuda.is_bf16_supported()
    return torch.cuda.get_device_capability(device)[0] >= 8


_NAMED = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def choose_dtype(kind: ModelKind, device: torch.device, options: MemoryOptions) -> DtypeChoice:
    """The storage and compute dtypes for a model of `kind` running on `device`."""
    if kind == ModelKind.TEXT_ENCODER:
        return _text_encoder_dtype(device, options)
    if kind == ModelKind.VAE:
        return _same(_vae_dtype(device, options))
    return _same(_unet_dtype(device, options))


def _same(dtype: torch.dtype) -> DtypeChoice:
    return DtypeChoice(dtype, dtype)


def _compute_dtype(storage: torch.dtype, device: torch.device) -> torch.dtype:
    """Half-precision storage computes in fp32 where the device lacks fast half math."""
    if storage == torch.float16 and not supports_fp16(device):
        return torch.float32
    if storage == torch.bfloat16 and not supports_bf16(device):
        return torch.float32
    return storage


def _unet_dtype(device: torch.device, options: MemoryOptions) -> torch.dtype:
    if options.unet_dtype is not None:
        return _NAMED[options.unet_dtype]
    if options.force_fp32 or device.type == "cpu":
        return torch.float32
    if options.force_fp16 or supports_fp16(device):
        return torch.float16
    return torch.bfloat16 if supports_bf16(device) else torch.float32


def _vae_dtype(device: torch.device, options: MemoryOptions) -> torch.dtype:
    """The SD VAE overflows in fp16, so `force_fp16` does not apply; only `--fp16-vae` does."""
    if options.vae_dtype is not None:
        return _NAMED[options.vae_dtype]
    if options.cpu_vae or options.force_fp32 or device.type == "cpu":
        return torch.float32
    return torch.bfloat16 if supports_bf16(device) else torch.float32


def _text_encoder_dtype(device: torch.device, options: MemoryOptions) -> DtypeChoice:
    """Stored fp16 (also on the CPU, as ComfyUI does) and computed in fp32 (COMPAT 10.3)."""
    if options.text_encoder_dtype is not None:
        storage = _NAMED[options.text_encoder_dtype]
        return DtypeChoice(storage, _compute_dtype(storage, device))
    if options.force_fp32:
        return _same(torch.float32)
    return DtypeChoice(torch.float16, torch.float32)


def device_for(kind: ModelKind, device: torch.device, options: MemoryOptions) -> torch.device:
    """Where a model of `kind` runs: VAE on the CPU with `--cpu-vae`; text encoders on the
    GPU only in gpu_only/high/normal states on fp16-capable devices, as ComfyUI does."""
    if kind == ModelKind.VAE and options.cpu_vae:
        return CPU
    if kind != ModelKind.TEXT_ENCODER or options.gpu_only:
        return device
    if options.vram_state in (VramState.HIGH_VRAM, VramState.NORMAL_VRAM, VramState.SHARED):
        return device if supports_fp16(device) else CPU
    return CPU
