"""`comfy.model_management`: ComfyUI's device, dtype, memory and interrupt functions for
plugins (COMPAT-PLUGINS 3.2), over the server's MemoryManager and the running job.

Devices and dtypes are the memory manager's choices (the same our loaders make); loading
goes through its `ensure_loaded`, so models a pack loads count against the same budget as
ours. The interrupt functions act on the running prompt (the job's interrupt event; from
outside a job, through the worker), and `InterruptProcessingException` is the exception
our executor treats as an interrupt. Module-level names (`vram_state`, `total_vram`,
`current_loaded_models`, ...) are answered by `__getattr__` at each access.
"""

from __future__ import annotations

import enum
from typing import Any, Sequence

import torch

from comfy_core import runtime
from comfy_core.memory import MemoryManager, MemoryOptions, ModelKind, devices
from comfy_core.memory.options import MIB, VramState as _OurState
from comfy_core.runtime.plugin_host import plugin_host_or_none

InterruptProcessingException = runtime.Interrupted
OOM_EXCEPTION = torch.cuda.OutOfMemoryError
DISABLE_SMART_MEMORY = False
XFORMERS_IS_AVAILABLE = False
XFORMERS_ENABLED_VAE = False
ENABLE_PYTORCH_ATTENTION = True
directml_enabled = False
lowvram_available = True


class VRAMState(enum.Enum):
    DISABLED = 0
    NO_VRAM = 1
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5


class CPUState(enum.Enum):
    GPU = 0
    CPU = 1
    MPS = 2


_STATES = {_OurState.DISABLED: VRAMState.DISABLED, _OurState.NO_VRAM: VRAMState.NO_VRAM,
           _OurState.LOW_VRAM: VRAMState.LOW_VRAM, _OurState.NORMAL_VRAM: VRAMState.NORMAL_VRAM,
           _OurState.HIGH_VRAM: VRAMState.HIGH_VRAM, _OurState.SHARED: VRAMState.SHARED}
_own_manager: list[MemoryManager] = []  # only when no server's manager is bound


def manager() -> MemoryManager:
    """The server's memory manager (the running job's, the plugin host's), else one made
    from the host's settings for code running outside any server."""
    host = plugin_host_or_none()
    if host is not None and host.memory is not None:
        return host.memory
    try:
        memory = runtime.app().memory
    except RuntimeError:
        memory = None
    if memory is not None:
        return memory
    if not _own_manager:
        flags = host.settings.memory if host is not None and host.settings is not None else None
        _own_manager.append(MemoryManager(MemoryOptions.from_settings(flags)))
    return _own_manager[0]


def __getattr__(name: str) -> Any:
    views = {
        "vram_state": lambda: _STATES[manager().vram_state],
        "set_vram_to": lambda: _STATES[manager().vram_state],
        "cpu_state": lambda: {"cpu": CPUState.CPU, "mps": CPUState.MPS}.get(
            manager().device.type, CPUState.GPU),
        "total_vram": lambda: manager().memory_info().total / MIB,
        "total_ram": lambda: devices.memory_info(devices.CPU).total / MIB,
        "current_loaded_models": lambda: [LoadedModel(m) for m in manager().loaded_models()],
    }
    if name in views:
        return views[name]()
    raise AttributeError(f"module 'comfy.model_management' has no attribute {name!r}")


class LoadedModel:
    """One entry of `current_loaded_models`."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = getattr(model, "device", None)
        self.currently_used = True

    @property
    def real_model(self) -> Any:
        return self.model

    def model_memory(self) -> int:
        return self.model.model_size()


# -- devices --------------------------------------------------------------------------------
def get_torch_device() -> torch.device:
    return manager().device


def get_torch_device_name(device: Any) -> str:
    return devices.device_name(torch.device(device))


def is_device_type(device: Any, kind: str) -> bool:
    return getattr(device, "type", None) == kind


def is_device_cpu(device: Any) -> bool:
    return is_device_type(device, "cpu")


def is_device_mps(device: Any) -> bool:
    return is_device_type(device, "mps")


def is_device_xpu(device: Any) -> bool:
    return is_device_type(device, "xpu")


def is_device_cuda(device: Any) -> bool:
    return is_device_type(device, "cuda")


def cpu_mode() -> bool:
    return manager().device.type == "cpu"


def mps_mode() -> bool:
    return manager().device.type == "mps"


def is_intel_xpu() -> bool:
    return False


def is_directml_enabled() -> bool:
    return False


def xformers_enabled() -> bool:
    return False


def xformers_enabled_vae() -> bool:
    return False


def pytorch_attention_enabled() -> bool:
    return True


def pytorch_attention_flash_attention() -> bool:
    return manager().device.type == "cuda"


def intermediate_device() -> torch.device:
    """Where node outputs live between nodes: the GPU with --gpu-only, else the CPU."""
    return manager().device if manager().options.gpu_only else devices.CPU


def intermediate_dtype() -> torch.dtype:
    """The dtype of tensors between nodes (newer ComfyUI; packs probe it): float32."""
    return torch.float32


def unet_offload_device() -> torch.device:
    return manager().offload_device


def unet_inital_load_device(parameters: int, dtype: torch.dtype) -> torch.device:
    return manager().offload_device


def text_encoder_device() -> torch.device:
    return manager().device_for(ModelKind.TEXT_ENCODER)


def text_encoder_offload_device() -> torch.device:
    return manager().device if manager().options.gpu_only else devices.CPU


def text_encoder_initial_device(load_device: Any, offload_device: Any, model_size: int = 0) -> Any:
    return offload_device


def vae_device() -> torch.device:
    return manager().device_for(ModelKind.VAE)


def vae_offload_device() -> torch.device:
    return manager().device if manager().options.gpu_only else devices.CPU


def get_autocast_device(dev: Any) -> str:
    return dev.type if hasattr(dev, "type") else "cuda"


def device_supports_non_blocking(device: Any) -> bool:
    return is_device_cuda(device)


def device_should_use_non_blocking(device: Any) -> bool:
    return False


def force_channels_last() -> bool:
    return False


def supports_fp8_compute(device: Any = None) -> bool:
    return False


def get_supported_float8_types() -> list:
    return []


# -- dtypes ---------------------------------------------------------------------------------
def _device(device: Any, kind: ModelKind) -> torch.device:
    return torch.device(device) if device is not None else manager().device_for(kind)


def _supports(dtype: torch.dtype, device: torch.device) -> bool:
    if dtype == torch.float16:
        return devices.supports_fp16(device)
    if dtype == torch.bfloat16:
        return devices.supports_bf16(device)
    return dtype == torch.float32


def unet_dtype(device: Any = None, model_params: int = 0,
               supported_dtypes: Sequence[torch.dtype] = (torch.float16, torch.bfloat16,
                                                          torch.float32),
               weight_dtype: Any = None) -> torch.dtype:
    """Our UNet dtype when the model supports it, else its first dtype the device runs."""
    device = _device(device, ModelKind.UNET)
    chosen = manager().dtype_for(ModelKind.UNET, device).storage
    if chosen in supported_dtypes:
        return chosen
    return next((d for d in supported_dtypes if _supports(d, device)), torch.float32)


def unet_manual_cast(weight_dtype: torch.dtype, inference_device: Any,
                     supported_dtypes: Sequence[torch.dtype] = (torch.float16, torch.bfloat16,
                                                                torch.float32)) -> Any:
    """None when weights of `weight_dtype` compute as they are on the device, else the
    dtype to cast them to per layer."""
    device = torch.device(inference_device)
    if weight_dtype == torch.float32 or _supports(weight_dtype, device):
        return None
    return next((d for d in supported_dtypes if _supports(d, device)), torch.float32)


def text_encoder_dtype(device: Any = None) -> torch.dtype:
    return manager().dtype_for(ModelKind.TEXT_ENCODER, _device(device, ModelKind.TEXT_ENCODER)).storage


def vae_dtype(device: Any = None, allowed_dtypes: Sequence[torch.dtype] = ()) -> torch.dtype:
    if device is None and not allowed_dtypes:
        return torch.float32
    chosen = manager().dtype_for(ModelKind.VAE, _device(device, ModelKind.VAE)).storage
    return chosen if not allowed_dtypes or chosen in allowed_dtypes else torch.float32


def should_use_fp16(device: Any = None, model_params: int = 0,
                    prioritize_performance: bool = True, manual_cast: bool = False) -> bool:
    device = torch.device(device) if device is not None else manager().device
    return (device.type != "cpu" and not manager().options.force_fp32
            and devices.supports_fp16(device))


def should_use_bf16(device: Any = None, model_params: int = 0,
                    prioritize_performance: bool = True, manual_cast: bool = False) -> bool:
    device = torch.device(device) if device is not None else manager().device
    return device.type != "cpu" and devices.supports_bf16(device)


def supports_cast(device: Any, dtype: torch.dtype) -> bool:
    return True


def dtype_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def cast_to(weight: torch.Tensor, dtype: Any = None, device: Any = None,
            non_blocking: bool = False, copy: bool = False, stream: Any = None) -> torch.Tensor:
    return weight.to(device=device, dtype=dtype, non_blocking=non_blocking, copy=copy)


def cast_to_device(tensor: torch.Tensor, device: Any, dtype: Any,
                   copy: bool = False) -> torch.Tensor:
    """The same tensor when nothing changes (and no copy is asked)."""
    return tensor.to(device=device, dtype=dtype, copy=copy)


# -- memory ---------------------------------------------------------------------------------
def get_free_memory(dev: Any = None, torch_free_too: bool = False) -> Any:
    """Free bytes on `dev` (the compute device by default); CPU/MPS: available RAM."""
    device = torch.device(dev) if dev is not None else manager().device
    info = manager().memory_info() if device == manager().device else devices.memory_info(device)
    return (info.free, info.torch_free) if torch_free_too else info.free


def get_total_memory(dev: Any = None, torch_total_too: bool = False) -> Any:
    device = torch.device(dev) if dev is not None else manager().device
    info = manager().memory_info() if device == manager().device else devices.memory_info(device)
    return (info.total, info.torch_total) if torch_total_too else info.total


def minimum_inference_memory() -> int:
    return manager().inference_bytes(0)


def extra_reserved_memory() -> int:
    return manager().reserve_bytes


def module_size(module: torch.nn.Module) -> int:
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())


def _managed(models: Sequence[Any]) -> list:
    """The models the memory manager drives (patchers expose theirs as `managed`)."""
    out = []
    for model in models:
        managed = getattr(model, "managed", model)
        if not all(hasattr(managed, a) for a in ("load", "offload", "model_size", "loaded_size")):
            raise TypeError(f"load_models_gpu: {type(model).__name__} is not a model this "
                            "server's memory manager can load")
        out.append(managed)
    return out


def load_models_gpu(models: Sequence[Any], memory_required: int = 0,
                    force_patch_weights: bool = False, minimum_memory_required: Any = None,
                    force_full_load: bool = False) -> None:
    """Put `models` on their load devices (evicting others as needed), keeping
    `memory_required` bytes free for the step."""
    from comfy_core.memory.current import load_models

    load_models(_managed(models), int(memory_required or 0), memory=manager())


def load_model_gpu(model: Any) -> None:
    load_models_gpu([model])


def loaded_models(only_currently_used: bool = False) -> list:
    return manager().loaded_models()


def free_memory(memory_required: int, device: Any, keep_loaded: Sequence[Any] = ()) -> int:
    return manager().free(int(memory_required), keep=_managed(keep_loaded))


def unload_all_models() -> None:
    manager().unload_all()


def cleanup_models() -> None:
    return None


def cleanup_models_gc() -> None:
    return None


def soft_empty_cache(force: bool = False) -> None:
    devices.empty_cache(manager().device)


def maximum_vram_for_weights(device: Any = None) -> int:
    return max(0, manager().memory_info().total - minimum_inference_memory())


# -- interrupt ------------------------------------------------------------------------------
def interrupt_current_processing(value: bool = True) -> None:
    """Interrupt the running prompt: from node code the job's own event, from elsewhere
    (a route, another thread) through the server's worker."""
    job = runtime.job()
    if job is not None:
        if value:
            job.interrupt.set()
        return
    if value:
        from comfy_core.api.plugin_server import PromptServer

        server = getattr(PromptServer, "instance", None)
        if server is not None:
            server.interrupt()


def processing_interrupted() -> bool:
    job = runtime.job()
    return job is not None and job.interrupt.is_set()


def throw_exception_if_processing_interrupted() -> None:
    job = runtime.job()
    if job is not None:
        job.check_interrupt()
