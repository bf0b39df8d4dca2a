"""k-diffusion's own sampling module (the `k-diffusion` package, a test-only dependency
installed without its dependencies) as the independent reference for the samplers.

The package's `__init__` imports its training stack (torchvision, kornia, wandb, clip),
none of which sampling needs: `k_diffusion/sampling.py` uses only `utils.append_dims` from
the rest of the package. So the module is loaded on its own under a private name, with
that one helper, and never through `import k_diffusion`.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import torch

PACKAGE = "_kdiffusion_reference"


def _append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    """k-diffusion's utils.append_dims: trailing singleton axes up to `target_dims`."""
    return x[(...,) + (None,) * (target_dims - x.ndim)]


def load() -> types.ModuleType:
    """The `k_diffusion.sampling` module (loaded once)."""
    name = f"{PACKAGE}.sampling"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the k-diffusion package is not installed (requirements-dev-nodeps.txt)")
    folder = Path(list(spec.submodule_search_locations)[0])
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(folder)]
    utils = types.ModuleType(f"{PACKAGE}.utils")
    utils.append_dims = _append_dims
    package.utils = utils
    sys.modules[PACKAGE], sys.modules[utils.__name__] = package, utils
    module_spec = importlib.util.spec_from_file_location(name, folder / "sampling.py")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    package.sampling = module
    return module


class Seq:
    """A noise source that hands out a fixed list of tensors in order, so our sampler and
    the reference see the same noise draws."""

    def __init__(self, draws: list[torch.Tensor]) -> None:
        self.draws, self.calls = draws, 0

    def __call__(self, sigma, sigma_next) -> torch.Tensor:  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.draws[self.calls - 1]


def comfy_gaussian(x: torch.Tensor, seed: int):  # type: ignore[no-untyped-def]
    """ComfyUI's default step noise for ancestral samplers on the CPU (COMPAT 9.2), written
    from the spec: fresh normal draws from a CPU generator seeded seed + 1."""
    generator = torch.Generator().manual_seed(seed + 1)
    return lambda sigma, sigma_next: torch.randn(x.shape, generator=generator, dtype=x.dtype)
