import pytest
import torch

from comfy_core.memory import devices
from comfy_core.memory.devices import DtypeChoice, ModelKind, choose_dtype, device_for
from comfy_core.memory.options import MemoryOptions, VramState

CPU = torch.device("cpu")
GPU = torch.device("cuda", 0)
F16, BF16, F32 = torch.float16, torch.bfloat16, torch.float32


def fake_gpu(monkeypatch, fp16: bool, bf16: bool) -> None:
    """Capability answers of a GPU generation, so the dtype rules can run on the CPU."""
    monkeypatch.setattr(devices, "supports_fp16", lambda d: d.type == "cuda" and fp16)
    monkeypatch.setattr(devices, "supports_bf16", lambda d: d.type == "cuda" and bf16)


def test_cpu_is_always_available_and_last():
    found = devices.available_devices()
    assert found[-1] == CPU
    assert devices.default_device(MemoryOptions(vram_state=VramState.DISABLED)) == CPU


def test_cpu_memory_info_is_sane():
    info = devices.memory_info(CPU)
    assert 0 < info.free <= info.total
    assert devices.device_name(CPU) == "cpu"
    assert not devices.supports_fp16(CPU) and not devices.supports_bf16(CPU)


def test_cpu_dtypes():
    options = MemoryOptions()
    assert choose_dtype(ModelKind.UNET, CPU, options) == DtypeChoice(F32, F32)
    assert choose_dtype(ModelKind.VAE, CPU, options) == DtypeChoice(F32, F32)
    text = choose_dtype(ModelKind.TEXT_ENCODER, CPU, options)
    assert text == DtypeChoice(F16, F32) and text.manual_cast
    assert choose_dtype(ModelKind.UNET, CPU, MemoryOptions(force_fp16=True)).storage == F32


@pytest.mark.parametrize(
    ("fp16", "bf16", "unet", "vae"),
    [
        (True, True, F16, BF16),  # Ampere and newer
        (True, False, F16, F32),  # Turing / Volta
        (False, True, BF16, BF16),  # bf16-only device
        (False, False, F32, F32),  # Pascal and older
    ],
)
def test_gpu_dtypes_by_capability(monkeypatch, fp16, bf16, unet, vae):
    fake_gpu(monkeypatch, fp16, bf16)
    options = MemoryOptions()
    assert choose_dtype(ModelKind.UNET, GPU, options).storage == unet
    assert choose_dtype(ModelKind.VAE, GPU, options).storage == vae
    assert choose_dtype(ModelKind.TEXT_ENCODER, GPU, options) == DtypeChoice(F16, F32)


def test_overrides(monkeypatch):
    fake_gpu(monkeypatch, fp16=True, bf16=False)
    assert choose_dtype(ModelKind.UNET, GPU, MemoryOptions(unet_dtype="bfloat16")).storage == BF16
    assert choose_dtype(ModelKind.UNET, GPU, MemoryOptions(force_fp32=True)).storage == F32
    assert choose_dtype(ModelKind.VAE, GPU, MemoryOptions(vae_dtype="float16")).storage == F16
    assert choose_dtype(ModelKind.VAE, GPU, MemoryOptions(force_fp16=True)).storage == F32
    text = choose_dtype(ModelKind.TEXT_ENCODER, GPU, MemoryOptions(text_encoder_dtype="bfloat16"))
    assert text == DtypeChoice(BF16, F32)  # no bf16 compute on this device
    assert choose_dtype(ModelKind.TEXT_ENCODER, GPU, MemoryOptions(force_fp32=True)) == DtypeChoice(F32, F32)


def test_devices_per_kind(monkeypatch):
    fake_gpu(monkeypatch, fp16=True, bf16=True)
    normal = MemoryOptions()
    assert device_for(ModelKind.UNET, GPU, normal) == GPU
    assert device_for(ModelKind.TEXT_ENCODER, GPU, normal) == GPU
    assert device_for(ModelKind.VAE, GPU, MemoryOptions(cpu_vae=True)) == CPU
    low = MemoryOptions(vram_state=VramState.LOW_VRAM)
    assert device_for(ModelKind.TEXT_ENCODER, GPU, low) == CPU
    assert device_for(ModelKind.TEXT_ENCODER, GPU, MemoryOptions(vram_state=VramState.LOW_VRAM, gpu_only=True)) == GPU
    fake_gpu(monkeypatch, fp16=False, bf16=False)
    assert device_for(ModelKind.TEXT_ENCODER, GPU, normal) == CPU


def test_default_reserve_is_platform_dependent(monkeypatch):
    mib = 1024**2
    monkeypatch.setattr(devices.platform, "system", lambda: "Linux")
    assert devices.default_reserve_bytes(24 * 1024 * mib) == 400 * mib
    monkeypatch.setattr(devices.platform, "system", lambda: "Windows")
    assert devices.default_reserve_bytes(8 * 1024 * mib) == 600 * mib
    assert devices.default_reserve_bytes(16 * 1024 * mib) == 700 * mib
