"""Out of memory through the real nodes (tiny SD1.5 on a budget-enforcing fake device):
KSampler splits the CFG batch, then streams weights; VAEDecode falls back to tiles; a
hopeless budget ends in a clear error; the next job runs normally."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.memory import MemoryManager, MemoryOptions, VramState
from comfy_core.settings import Settings
from fake_device import BudgetedDevice
from tests.nodes.nodes_models_helpers import build_models, encode, ksample, load, run

# The manager believes in a huge device (its working-memory estimates are sized for real
# models and would dwarf tiny ones); the fake device enforces the real budget instead:
# free = FAKE_TOTAL - bytes of weights the manager keeps resident.
BIG = 10**12


def _same_latent(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal within float tolerance: smaller GEMMs round differently, and random weights
    amplify that over the steps (observed: 1e-3 relative)."""
    torch.testing.assert_close(a, b, rtol=5e-3, atol=5e-3 * float(b.abs().max()))


def _fake_free(manager: MemoryManager, total: int):
    return lambda: total - sum(m.loaded_size() for m in manager.loaded_models())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    base = build_models(tmp_path_factory.mktemp("oom"), families=("sd15",))
    options = MemoryOptions(vram_state=VramState.NORMAL_VRAM, reserve_bytes=0, min_inference_bytes=0)
    manager = MemoryManager(options, "cpu", total_memory=BIG)
    ctx = runtime.AppContext(folders=FolderPaths.build(Path(base)), settings=Settings(base_directory=base),
                             memory=manager)
    with runtime.use_app(ctx):
        model, clip, vae = load("sd15")
        pos, neg = encode(clip, "a red cat"), encode(clip, "")
        latent = {"samples": torch.zeros(2, 4, 8, 8)}  # CFG batch of 4 in one UNet call
        reference = ksample(model, pos, neg, latent, seed=5)["samples"]
        yield manager, (model, clip, vae), (pos, neg, latent), reference


def test_sampling_frees_other_models_and_splits_the_batch(env, caplog):
    manager, (model, clip, _), (pos, neg, latent), reference = env
    manager.ensure_loaded([clip.patcher])
    total = model.model_size() + clip.patcher.model_size() + 200_000  # batch 4 does not fit, 2 does
    with caplog.at_level(logging.WARNING), BudgetedDevice(_fake_free(manager, total)) as device:
        out = ksample(model, pos, neg, latent, seed=5)["samples"]
    assert device.ooms >= 1 and clip.patcher.loaded_size() == 0
    assert "retrying in chunks of 2" in caplog.text
    _same_latent(out, reference)


def test_sampling_streams_weights_when_batch_one_fails(env, caplog):
    manager, (model, clip, _), (pos, neg, latent), reference = env
    manager.offload(clip.patcher)
    total = model.model_size() + 50_000  # not even one latent fits beside the full UNet
    with caplog.at_level(logging.INFO), BudgetedDevice(_fake_free(manager, total)) as device:
        out = ksample(model, pos, neg, latent, seed=5)["samples"]
    assert device.ooms >= 3 and manager.is_partially_loaded(model)
    assert "after running out of memory" in caplog.text
    _same_latent(out, reference)
    # The next job, with memory to spare, loads the model completely again.
    again = ksample(model, pos, neg, latent, seed=5)["samples"]
    assert not manager.is_partially_loaded(model) and model.loaded_size() == model.model_size()
    assert all(not m._forward_pre_hooks for m in model.model.modules())
    _same_latent(again, reference)


def test_vae_decode_falls_back_to_tiles(env):
    manager, (model, clip, vae), _, _ = env
    latent = torch.randn(1, 4, 36, 36, generator=torch.Generator().manual_seed(2))
    manager.unload_all()
    # Whole decode (and 64-latent tiles, the same here) allocates up to 10.6 MB at once
    # (a 32-channel 288x288 activation); 32-latent tiles 8.4 MB.
    total = vae.patcher.model_size() + 9_500_000
    with BudgetedDevice(_fake_free(manager, total)) as device:
        image = run("VAEDecode", vae=vae, samples={"samples": latent})[0]
    assert device.ooms == 2
    torch.testing.assert_close(image, vae.decode_tiled(latent, 32, 32, 8), rtol=0, atol=0)


def test_hopeless_budget_is_a_clear_error_and_the_next_job_runs(env):
    manager, (model, _, _), (pos, neg, latent), reference = env
    with BudgetedDevice(lambda: 0):
        with pytest.raises(torch.OutOfMemoryError, match="Out of memory in sampling"):
            ksample(model, pos, neg, latent, seed=5)
    out = ksample(model, pos, neg, latent, seed=5)["samples"]
    _same_latent(out, reference)
