"""Memory options: the frozen, parsed form of the memory-related command line flags.

Flags are read once from a Settings object (plain attributes, ComfyUI flag names with
underscores) so that nothing below the torch-free line ever parses arguments itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

GIB = 1024**3
MIB = 1024**2

# COMPAT 10.3: the minimum memory kept free for inference, on top of the reserve.
DEFAULT_MIN_INFERENCE_BYTES = int(0.8 * GIB)

DTYPE_NAMES = ("float16", "bfloat16", "float32")


class VramState(str, enum.Enum):
    """How aggressively models are kept on the compute device (COMPAT 10.3)."""

    DISABLED = "disabled"  # everything on the CPU
    NO_VRAM = "no_vram"  # every model streamed layer by layer
    LOW_VRAM = "low_vram"  # partial loads with a conservative budget
    NORMAL_VRAM = "normal_vram"  # full loads; partial only when a model cannot fit
    HIGH_VRAM = "high_vram"  # full loads, never evicted to make room
    SHARED = "shared"  # unified memory (MPS): full loads


@dataclass(frozen=True)
class MemoryOptions:
    """Everything the memory manager and dtype choice need from the user.

    `reserve_bytes=None` means the platform default (400 MB Linux, 600 MB Windows).
    Dtype overrides are torch dtype names from DTYPE_NAMES, or None for automatic.
    """

    vram_state: VramState = VramState.NORMAL_VRAM
    reserve_bytes: int | None = None
    min_inference_bytes: int = DEFAULT_MIN_INFERENCE_BYTES
    force_fp16: bool = False
    force_fp32: bool = False
    unet_dtype: str | None = None
    vae_dtype: str | None = None
    text_encoder_dtype: str | None = None
    cpu_vae: bool = False
    gpu_only: bool = False
    smart_memory: bool = True

    def __post_init__(self) -> None:
        if self.force_fp16 and self.force_fp32:
            raise ValueError("force_fp16 and force_fp32 cannot both be set")
        for field_name in ("unet_dtype", "vae_dtype", "text_encoder_dtype"):
            value = getattr(self, field_name)
            if value is not None and value not in DTYPE_NAMES:
                raise ValueError(f"{field_name}={value!r}: expected one of {DTYPE_NAMES} or None")
        if self.reserve_bytes is not None and self.reserve_bytes < 0:
            raise ValueError(f"reserve_bytes must be >= 0, got {self.reserve_bytes}")
        if self.min_inference_bytes < 0:
            raise ValueError(f"min_inference_bytes must be >= 0, got {self.min_inference_bytes}")

    @classmethod
    def from_settings(cls, settings: Any) -> "MemoryOptions":
        """Build options from a Settings-like object; missing attributes take defaults."""
        reserve_gb = getattr(settings, "reserve_vram", None)
        return cls(
            vram_state=_vram_state_from_flags(settings),
            reserve_bytes=None if reserve_gb is None else int(float(reserve_gb) * GIB),
            force_fp16=bool(getattr(settings, "force_fp16", False)),
            force_fp32=bool(getattr(settings, "force_fp32", False)),
            unet_dtype=_dtype_from_flags(settings, "unet"),
            vae_dtype=_dtype_from_flags(settings, "vae"),
            text_encoder_dtype=_dtype_from_flags(settings, "text_enc"),
            cpu_vae=bool(getattr(settings, "cpu_vae", False)),
            gpu_only=bool(getattr(settings, "gpu_only", False)),
            smart_memory=not bool(getattr(settings, "disable_smart_memory", False)),
        )


# Flag -> state, in priority order; ComfyUI makes these flags mutually exclusive.
_STATE_FLAGS = (
    ("cpu", VramState.DISABLED),
    ("gpu_only", VramState.HIGH_VRAM),
    ("highvram", VramState.HIGH_VRAM),
    ("normalvram", VramState.NORMAL_VRAM),
    ("lowvram", VramState.LOW_VRAM),
    ("novram", VramState.NO_VRAM),
)


def _vram_state_from_flags(settings: Any) -> VramState:
    chosen = [(flag, state) for flag, state in _STATE_FLAGS if getattr(settings, flag, False)]
    states = {state for _, state in chosen}
    if len(states) > 1:
        names = ", ".join(f"--{flag.replace('_', '-')}" for flag, _ in chosen)
        raise ValueError(f"conflicting memory flags: {names}; choose one")
    return chosen[0][1] if chosen else VramState.NORMAL_VRAM


def _dtype_from_flags(settings: Any, part: str) -> str | None:
    """Read fp16_<part> / bf16_<part> / fp32_<part>; more than one set is an error."""
    flags = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
    chosen = [(p, name) for p, name in flags.items() if getattr(settings, f"{p}_{part}", False)]
    if len(chosen) > 1:
        names = ", ".join(f"--{p}-{part.replace('_', '-')}" for p, _ in chosen)
        raise ValueError(f"conflicting dtype flags: {names}; choose one")
    return chosen[0][1] if chosen else None
