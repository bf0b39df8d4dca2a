"""What packs import for model sampling and the patch nodes: `comfy.model_sampling` classes
they combine and subclass (a TCD-style sampling registering its own buffer, used as a
MODEL's model_sampling), and the comfy_extras modules of the patch nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ["freelunch", "hypertile", "model_downscale", "tomesd", "pag", "attention_multiply", "differential_diffusion",
          "torch_compile", "eps", "mahiro", "cfg", "fresca", "apg", "tcfg", "easycache", "sag", "model_advanced"]


@pytest.fixture
def compat_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "compat"))


def test_packs_build_their_model_sampling_from_comfy_classes(compat_path):
    import comfy.model_sampling as cms
    from comfy_extras.nodes_model_advanced import LCM, ModelSamplingDiscreteDistilled

    class TCD(ModelSamplingDiscreteDistilled, cms.EPS):  # as the TCD pack writes it
        def __init__(self, model_config=None):
            super().__init__(model_config)
            betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2
            self.register_buffer("alphas_cumprod", torch.cumprod(1 - betas, 0))

    tcd = TCD()
    assert len(tcd.sigmas) == 50 and tcd.alphas_cumprod.shape == (1000,)
    assert float(tcd.timestep(tcd.sigma_max)) == 999.0 and isinstance(tcd, cms.ModelSamplingDiscrete)
    assert issubclass(LCM, cms.EPS)
    sigma, x = torch.tensor([2.0]), torch.ones(1, 4, 2, 2)
    torch.testing.assert_close(tcd.calculate_denoised(sigma, x, x * 3), x)  # 3x − 2·x


@pytest.mark.parametrize("name", EXTRAS)
def test_comfy_extras_modules_export_the_patch_nodes(compat_path, name):
    import importlib

    module = importlib.import_module(f"comfy_extras.nodes_{name}")
    assert module.NODE_CLASS_MAPPINGS, name
    for node_id, cls in module.NODE_CLASS_MAPPINGS.items():
        assert getattr(module, cls.__name__) is cls
