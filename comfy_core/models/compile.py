"""Opt-in `--compile`: torch.compile of the UNet forward, with on-disk caches.

The compiled graph runs only while every weight is resident in its compute dtype; when the
memory manager streams layers (partial loading) or casts them per forward, the hooks that
do it cannot be traced, so the eager forward runs instead and results stay identical. The
same when a call carries plugin patches in its transformer options.
Mode per device: CUDA uses "reduce-overhead" (CUDA graphs: one replay per step for fixed
shapes), other devices inductor's default. Inductor's FX-graph, AOTAutograd and Triton
caches live under one directory (the user dir in the app), so a restart with the same
model and shapes reuses the compiled kernels instead of compiling again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

log = logging.getLogger(__name__)

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
TRITON_CACHE_ENV = "TRITON_CACHE_DIR"


@dataclass(frozen=True)
class CompileOptions:
    """`mode` None picks per device (see `compile_mode`); `dynamic=False` specialises on
    shapes, which CUDA graphs need; `cache_dir` None keeps torch's default location."""

    cache_dir: Path | None = None
    mode: str | None = None
    dynamic: bool = False


def compile_mode(device: torch.device) -> str:
    """CUDA graphs on CUDA (launch overhead dominates small UNet steps), default elsewhere."""
    return "reduce-overhead" if device.type == "cuda" else "default"


def use_cache_dir(cache_dir: Path) -> None:
    """Point inductor's and Triton's on-disk caches at `cache_dir`. Process-wide by torch's
    design (read from the environment at each compile), so the app sets it once at start."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ[CACHE_ENV] = str(cache_dir.resolve())
    os.environ[TRITON_CACHE_ENV] = str((cache_dir / "triton").resolve())


class CompiledForward:
    """Stands in for `module.forward`: the compiled forward (one per compile mode) when
    `is_hooked()` is false, else the eager forward."""

    def __init__(self, eager: Callable[..., Any], is_hooked: Callable[[], bool], options: CompileOptions) -> None:
        self.eager = eager
        self.is_hooked = is_hooked
        self.options = options
        self._compiled: dict[str, Callable[..., Any]] = {}
        self.compiled_calls = 0
        self.eager_calls = 0

    def __call__(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.is_hooked() or _patched(kwargs.get("transformer_options")):
            self.eager_calls += 1
            return self.eager(x, *args, **kwargs)
        kwargs["transformer_options"] = None  # per-call bookkeeping only: keep it out of the graph's guards
        mode = self.options.mode or compile_mode(x.device)
        fn = self._compiled.get(mode)
        if fn is None:
            log.info("compiling the UNet forward (mode %s); the first step is slow", mode)
            fn = self._compiled[mode] = torch.compile(self.eager, mode=mode, dynamic=self.options.dynamic)
        self.compiled_calls += 1
        if mode == "reduce-overhead":
            # CUDA graph replays reuse their output buffer: mark the step, hand out a copy.
            torch.compiler.cudagraph_mark_step_begin()
            return fn(x, *args, **kwargs).clone()
        return fn(x, *args, **kwargs)


def _patched(transformer_options: dict | None) -> bool:
    """Whether plugins hook into this call (patches, replacements, wrappers, an attention
    override): Python callables the compiled graph would not see, so eager runs."""
    if not transformer_options:
        return False
    keys = ("patches", "patches_replace", "optimized_attention_override")
    wrappers = transformer_options.get("wrappers") or {}
    return any(transformer_options.get(k) for k in keys) or any(any(w.values()) for w in wrappers.values())


def compile_unet(handle: Any, options: CompileOptions) -> CompiledForward:
    """Route the UNet's forward (`handle.model.diffusion_model`) through torch.compile
    (idempotent; clones share the module, so they share the compiled forward).
    `handle.weights` is its ManagedWeights."""
    module = handle.model.diffusion_model
    current = module.__dict__.get("forward")
    if isinstance(current, CompiledForward):
        return current
    if options.cache_dir is not None:
        use_cache_dir(options.cache_dir)
    weights = handle.weights
    compiled = CompiledForward(module.forward, lambda: weights.hooked, options)
    module.forward = compiled  # instance attribute: nn.Module.__call__ dispatches to it
    return compiled


def uncompile_unet(handle: Any) -> None:
    """Back to the plain eager forward."""
    module = handle.model.diffusion_model
    current = module.__dict__.get("forward")
    if isinstance(current, CompiledForward):
        del module.forward
