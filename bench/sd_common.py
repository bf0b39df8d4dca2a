"""What both engines of the SD benchmark share: the workload, timing on the device, peak
memory, and the machine line printed above every table."""

from __future__ import annotations

import datetime
import platform
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3
POSITIVE = "a photograph of an astronaut riding a horse, detailed, sharp focus"
NEGATIVE = "blurry, low quality"


@dataclass(frozen=True)
class Workload:
    """One benchmark configuration; every engine runs exactly this."""

    checkpoint: Path
    device: str = "cuda"
    size: int = 512
    steps: int = 20
    cfg: float = 7.0
    seed: int = 0
    batches: tuple[int, ...] = (1, 4)
    runs: int = 3
    half: bool = True  # fp16 UNet/VAE storage and compute on CUDA; fp32 everywhere on the CPU
    lowvram: bool = False
    vram_cap_gib: float | None = None
    compile: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.half and self.device != "cpu" else torch.float32


@dataclass
class Figures:
    """Medians over the measured runs of one engine at one batch size."""

    engine: str
    batch: int
    it_per_s: float = float("nan")
    decode_s: float = float("nan")
    peak_vram_gib: float = float("nan")
    first_run_s: float = float("nan")  # warm-up run: compile time shows here
    runs: list[dict] = field(default_factory=list)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: str) -> tuple[float, object]:
    """(seconds, result) of `fn`, with the device synchronised on both ends."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_vram_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / GIB
    return float("nan")


def peak_rss_gib() -> float:
    """This process's peak resident set. Linux: VmHWM, which starts afresh at exec, unlike
    ru_maxrss, which a child inherits from the parent that forked it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cap_vram(workload: Workload) -> int | None:
    """Apply --vram-cap-gib to the CUDA allocator; returns the cap in bytes (or None)."""
    if workload.vram_cap_gib is None or not workload.device.startswith("cuda"):
        return None
    cap = int(workload.vram_cap_gib * GIB)
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total))
    return cap


def machine_line(device: str) -> str:
    """Hardware, software versions, commit and date, for the README."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    if device.startswith("cuda") and torch.cuda.is_available():
        hw = f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}"
    else:
        cpu = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        hw = f"{cpu}, {torch.get_num_threads()} threads"
    import diffusers  # the peer's version belongs in the line too

    return (f"{hw}; torch {torch.__version__}, diffusers {diffusers.__version__}; commit {commit}; "
            f"{datetime.date.today().isoformat()}")


def make_checkpoint(family: str, out: Path) -> Path:
    """A full-size random fp16 checkpoint of `family` (made once; reused when present)."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    from comfy_core.tools.make_checkpoint import write_checkpoint

    return write_checkpoint(family, "full", out, seed=0)
