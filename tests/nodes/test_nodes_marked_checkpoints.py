"""Marker-carrying SDXL files through the nodes: each samples in KSampler exactly as the
unmarked file with ComfyUI's equivalent model-sampling node applied (so the markers are
honoured end to end, latent format included), and CheckpointSave after
ModelSamplingContinuousEDM(v_prediction) writes a file that reloads with the same sampling."""

from __future__ import annotations

import pytest
import torch
from nodes_models_helpers import empty_latent, encode, ksample, run

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.models.base_model import ModelType
from comfy_core.sampling import predictions as pred
from comfy_core.sampling.model_sampling import ModelSamplingContinuousEDM
from comfy_core.settings import Settings
from comfy_core.tools.make_marked import write_marked_checkpoint
from tests.fixtures.checkpoints import make_tiny_checkpoint

# marker kind -> (node, inputs) giving the unmarked weights the same sampling (ComfyUI's nodes)
EQUIVALENT = {
    "v_pred_ztsnr": ("ModelSamplingDiscrete", dict(sampling="v_prediction", zsnr=True)),
    "edm_vpred": ("ModelSamplingContinuousEDM", dict(sampling="v_prediction", sigma_max=160.0, sigma_min=0.03)),
    "playground": ("ModelSamplingContinuousEDM", dict(sampling="edm_playground_v2.5", sigma_max=80.0, sigma_min=0.002)),
}


@pytest.fixture(scope="module")
def marked_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("marked")
    ckpts = base / "models" / "checkpoints"
    make_tiny_checkpoint("sdxl", ckpts)  # seed 0: the same weights as the marked files
    for kind in EQUIVALENT:
        write_marked_checkpoint("sdxl", kind, ckpts / f"{kind}.safetensors", sigma_min=0.03, sigma_max=160.0)
    folders = FolderPaths.build(base)
    folders.output_dir.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))):
        yield folders


@pytest.fixture(scope="module")
def plain(marked_app):
    """(MODEL, CLIP, the unmarked model's KSampler result) of the unmarked tiny SDXL file."""
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sdxl_tiny.safetensors")
    return model, clip, _sample(model, clip)


def _sample(model, clip) -> torch.Tensor:
    pos, neg = encode(clip, "a red circle"), encode(clip, "")
    return ksample(model, pos, neg, empty_latent(32), seed=3, steps=2, cfg=4.0, scheduler="karras")["samples"]


@pytest.mark.parametrize("kind", list(EQUIVALENT))
def test_marked_file_samples_as_the_equivalent_node(plain, kind: str) -> None:
    marked, clip, vae = run("CheckpointLoaderSimple", ckpt_name=f"{kind}.safetensors")
    plain_model, plain_clip, plain_result = plain
    node, inputs = EQUIVALENT[kind]
    got = _sample(marked, clip)
    assert torch.isfinite(got).all()
    assert torch.equal(got, _sample(run(node, model=plain_model, **inputs)[0], plain_clip))
    assert not torch.allclose(got, plain_result, atol=1e-3)  # the markers change the result
    image = run("VAEDecode", samples={"samples": got}, vae=vae)[0]
    assert image.shape == (1, 32, 32, 3) and torch.isfinite(image).all()


@pytest.mark.parametrize("sigma_min,sigma_max", [(0.002, 120.0)])
def test_checkpoint_save_keeps_continuous_edm_v_sampling(marked_app, sigma_min: float, sigma_max: float) -> None:
    """CheckpointSave writes `edm_vpred.sigma_min/max` for a ModelSamplingContinuousEDM
    (v_prediction) model; CheckpointLoaderSimple reads the file back to the same sampling
    (schedule, prediction, σ table, σ_data) and the same KSampler result."""
    folders = marked_app
    model, clip, vae = run("CheckpointLoaderSimple", ckpt_name="sdxl_tiny.safetensors")
    patched = run("ModelSamplingContinuousEDM", model=model, sampling="v_prediction",
                  sigma_max=sigma_max, sigma_min=sigma_min)[0]
    prefix = f"checkpoints/edm_{sigma_max:g}"
    run("CheckpointSave", model=patched, clip=clip, vae=vae, filename_prefix=prefix, prompt=None, extra_pnginfo=None)
    saved = folders.output_dir / f"{prefix}_00001_.safetensors"
    (folders.get_folder_paths("checkpoints")[0] / saved.name).write_bytes(saved.read_bytes())
    back, back_clip, _ = run("CheckpointLoaderSimple", ckpt_name=saved.name)
    before, after = patched.get_model_object("model_sampling"), back.get_model_object("model_sampling")
    assert back.model.model_type is ModelType.V_PREDICTION_EDM
    for ms in (before, after):
        assert isinstance(ms, ModelSamplingContinuousEDM) and isinstance(ms, pred.V_PREDICTION)
        assert not isinstance(ms, pred.EDM)
    assert torch.equal(after.sigmas, before.sigmas) and after.sigma_data == before.sigma_data == 1.0
    assert torch.equal(_sample(back, back_clip), _sample(patched, clip))


def test_playground_saves_as_comfyui_saves_it(marked_app) -> None:
    """ComfyUI's CheckpointSave writes no `edm_mean`/`edm_std`: a Playground model's EDM
    sampling is continuous and (EDM being a v-prediction subclass there) stored as the
    `edm_vpred` range, so the file reloads as continuous v-prediction in the SDXL latent
    space, in ComfyUI as here."""
    folders = marked_app
    model, clip, vae = run("CheckpointLoaderSimple", ckpt_name="playground.safetensors")
    run("CheckpointSave", model=model, clip=clip, vae=vae, filename_prefix="checkpoints/pg", prompt=None,
        extra_pnginfo=None)
    from safetensors import safe_open

    with safe_open(str(folders.output_dir / "checkpoints" / "pg_00001_.safetensors"), framework="pt") as f:
        keys, meta = set(f.keys()), f.metadata() or {}
        sigma_max, sigma_min = float(f.get_tensor("edm_vpred.sigma_max")), float(f.get_tensor("edm_vpred.sigma_min"))
    assert not keys & {"edm_mean", "edm_std", "v_pred"} and "modelspec.predict_key" not in meta
    assert (sigma_min, sigma_max) == pytest.approx((0.002, 80.0))
