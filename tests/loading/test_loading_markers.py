"""SDXL marker tensors (v_pred, ztsnr, edm_vpred.*, edm_mean/edm_std) on tiny generated files:
which model sampling and latent format each load gives, which files ignore them, the EDM
numerics against Karras et al. 2022 and diffusers' EDM schedulers, Playground's latent space
against its published VAE statistics, and the refusal of unusable σ markers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from comfy_core.images.previews import LatentRGB
from comfy_core.loading.checkpoint import load_checkpoint, load_unet
from comfy_core.loading.keymaps import strip_prefix
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.base_model import ModelType, model_sampling
from comfy_core.models.latent_formats import SDXL, SDXL_Playground_2_5
from comfy_core.sampling import predictions as pred
from comfy_core.sampling.model_sampling import ModelSamplingContinuousEDM, ModelSamplingDiscrete
from comfy_core.sampling.schedules import calculate_sigmas
from comfy_core.tools.make_checkpoint import build_checkpoint, layout
from comfy_core.tools.make_marked import marker_tensors, write_marked_checkpoint

# Playground v2.5's VAE config (diffusers): latents_mean / latents_std / scaling_factor.
PLAYGROUND_MEAN = (-1.6574, 1.886, -1.383, 2.5155)
PLAYGROUND_STD = (8.4927, 5.9022, 6.5498, 5.2299)
PLAYGROUND_RGB = ((0.3920, 0.4054, 0.4549), (-0.2634, -0.0196, 0.0653), (0.0568, 0.1687, -0.0755),
                  (-0.3112, -0.2359, -0.2076))

# marker kinds -> (ModelType, schedule, prediction, (σ_min, σ_max, σ_data) or None, zsnr, latent format)
EXPECTED = {
    None: (ModelType.EPS, ModelSamplingDiscrete, pred.EPS, None, False, SDXL),
    "v_pred": (ModelType.V_PREDICTION, ModelSamplingDiscrete, pred.V_PREDICTION, None, False, SDXL),
    "v_pred_ztsnr": (ModelType.V_PREDICTION, ModelSamplingDiscrete, pred.V_PREDICTION, None, True, SDXL),
    "ztsnr": (ModelType.EPS, ModelSamplingDiscrete, pred.EPS, None, False, SDXL),
    "edm_vpred": (ModelType.V_PREDICTION_EDM, ModelSamplingContinuousEDM, pred.V_PREDICTION, (0.03, 160.0, 1.0),
                  False, SDXL),
    "edm_vpred_max": (ModelType.V_PREDICTION_EDM, ModelSamplingContinuousEDM, pred.V_PREDICTION,
                      (0.002, 160.0, 1.0), False, SDXL),
    "playground": (ModelType.EDM, ModelSamplingContinuousEDM, pred.EDM, (0.002, 80.0, 0.5), False,
                   SDXL_Playground_2_5),
}


def _marked(tmp_path: Path, kind: str | None, family: str = "sdxl") -> Path:
    path = tmp_path / f"{family}_{kind}.safetensors"
    if kind is None:
        state = build_checkpoint(layout(family, "tiny"))
        save_file(state, str(path))
        return path
    return write_marked_checkpoint(family, kind, path, sigma_min=0.03, sigma_max=160.0)


def _expect_discrete(ms, zsnr: bool) -> None:
    reference = type("Reference", (ModelSamplingDiscrete, pred.EPS), {})(None, zsnr=zsnr)
    assert ms.zsnr is zsnr
    assert torch.equal(ms.sigmas, reference.sigmas)  # that table is checked against diffusers elsewhere


def _expect_continuous(ms, sigmas: tuple[float, float, float]) -> None:
    lo, hi, sigma_data = sigmas
    assert ms.sigma_data == sigma_data
    table = torch.linspace(math.log(lo), math.log(hi), 1000).exp()  # log-spaced, float32, as ComfyUI
    torch.testing.assert_close(ms.sigmas, table, rtol=0, atol=0)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_marked_sdxl_loads_with_comfyuis_model_sampling(tmp_path: Path, kind: str | None) -> None:
    model_type, schedule, prediction, sigmas, zsnr, latent = EXPECTED[kind]
    model = load_checkpoint(_marked(tmp_path, kind)).model
    ms = model.get_model_object("model_sampling")
    assert model.model.model_type is model_type and isinstance(ms, schedule) and isinstance(ms, prediction)
    assert isinstance(ms, pred.EDM) == (prediction is pred.EDM)
    assert type(model.model.latent_format) is latent and model.model.model_config.latent_format is latent
    if sigmas is None:
        _expect_discrete(ms, zsnr)
    else:
        _expect_continuous(ms, sigmas)
        settings = model.model.model_config.sampling_settings
        assert (settings["sigma_min"], settings["sigma_max"], settings["sigma_data"]) == pytest.approx(sigmas)
        # what packs rebuild from the config (comfy.model_base.model_sampling) is the same sampling
        rebuilt = model_sampling(model.model.model_config, model.model.model_type)
        assert torch.equal(rebuilt.sigmas, ms.sigmas) and rebuilt.sigma_data == ms.sigma_data


@pytest.mark.parametrize("kinds,winner", [(("playground", "edm_vpred", "v_pred_ztsnr"), "playground"),
                                          (("edm_vpred", "v_pred_ztsnr"), "edm_vpred")])
def test_first_matching_marker_decides(tmp_path: Path, kinds: tuple[str, ...], winner: str) -> None:
    state = build_checkpoint(layout("sdxl", "tiny"))
    for kind in kinds:
        state.update(marker_tensors(kind, sigma_min=0.03, sigma_max=160.0))
    save_file(state, str(tmp_path / "many.safetensors"))
    model = load_checkpoint(tmp_path / "many.safetensors").model
    assert model.model.model_type is EXPECTED[winner][0]


def test_half_a_playground_pair_changes_nothing(tmp_path: Path) -> None:
    state = build_checkpoint(layout("sdxl", "tiny"))
    state["edm_mean"] = marker_tensors("playground")["edm_mean"]
    state["edm_vpred.sigma_min"] = torch.tensor(0.5)
    save_file(state, str(tmp_path / "half.safetensors"))
    model = load_checkpoint(tmp_path / "half.safetensors").model
    assert model.model.model_type is ModelType.EPS and type(model.model.latent_format) is SDXL


@pytest.mark.parametrize("family,prediction", [("sd15", "eps"), ("sd21", "eps"), ("sd21v", "v"),
                                               ("sdxl_refiner", "eps")])
def test_other_families_ignore_markers(tmp_path: Path, family: str, prediction: str) -> None:
    """ComfyUI reads markers in its SDXL model config only: SD1/SD2 (whose v-prediction comes
    from the weights) and the refiner keep their own sampling."""
    state = build_checkpoint(layout(family, "tiny"))
    for kind in ("playground", "v_pred_ztsnr"):
        state.update(marker_tensors(kind))
    save_file(state, str(tmp_path / "m.safetensors"))
    model = load_checkpoint(tmp_path / "m.safetensors").model
    ms = model.get_model_object("model_sampling")
    assert model.model.family.prediction == prediction and model.model.family.edm_schedule is None
    assert isinstance(ms, ModelSamplingDiscrete) and not ms.zsnr
    assert not isinstance(model.model.latent_format, SDXL_Playground_2_5)


def test_diffusion_model_files_keep_markers_beside_bare_keys_only(tmp_path: Path) -> None:
    """As ComfyUI's UNETLoader: a bare UNet file's markers count; a checkpoint-layout file keeps
    only its prefixed UNet keys, so its markers are dropped."""
    full = load_state_dict(_marked(tmp_path, "playground"))
    bare = strip_prefix(full, "model.diffusion_model.") | marker_tensors("playground")
    save_file(bare, str(tmp_path / "bare.safetensors"))
    assert load_unet(tmp_path / "bare.safetensors").model.model_type is ModelType.EDM
    assert load_unet(tmp_path / "sdxl_playground.safetensors").model.model_type is ModelType.EPS


@pytest.mark.parametrize("markers,message", [
    ({"edm_vpred.sigma_max": torch.tensor([80.0, 90.0])}, r"'edm_vpred.sigma_max' should hold one number"),
    ({"edm_vpred.sigma_max": torch.tensor(float("nan"))}, r"'edm_vpred.sigma_max' should be a positive"),
    ({"edm_vpred.sigma_max": torch.tensor(1.0), "edm_vpred.sigma_min": torch.tensor(5.0)}, r"below σ_max"),
])
def test_unusable_sigma_markers_are_refused_naming_file_and_key(tmp_path: Path, markers: dict, message: str) -> None:
    state = build_checkpoint(layout("sdxl", "tiny")) | markers
    save_file(state, str(tmp_path / "odd.safetensors"))
    with pytest.raises(CheckpointError, match=r"odd\.safetensors.*" + message):
        load_checkpoint(tmp_path / "odd.safetensors")


def test_playground_sampling_follows_edm_paper_and_diffusers(tmp_path: Path) -> None:
    """Karras et al. 2022 Table 1 with σ_data 0.5 (c_in, c_skip, c_out, c_noise = ¼ ln σ), as
    diffusers' EDMDPMSolverMultistepScheduler preconditions Playground v2.5; its Karras
    schedule over 0.002..80 is the one the KSampler's "karras" scheduler gives."""
    from diffusers import EDMDPMSolverMultistepScheduler

    ms = load_checkpoint(_marked(tmp_path, "playground")).model.get_model_object("model_sampling")
    ref = EDMDPMSolverMultistepScheduler(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5, prediction_type="epsilon")
    g = torch.Generator().manual_seed(0)
    x, out = torch.randn(4, 4, 3, 3, generator=g), torch.randn(4, 4, 3, 3, generator=g)
    sigma = torch.tensor([0.002, 0.4, 3.0, 80.0])
    s, sd = sigma.view(-1, 1, 1, 1), 0.5
    c_in, c_skip, c_out = 1 / (s**2 + sd**2) ** 0.5, sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2) ** 0.5
    torch.testing.assert_close(ms.calculate_input(sigma, x), c_in * x)
    torch.testing.assert_close(ms.calculate_denoised(sigma, out, x), c_skip * x + c_out * out)
    torch.testing.assert_close(ms.timestep(sigma), 0.25 * sigma.log())
    torch.testing.assert_close(ms.calculate_input(sigma, x), ref.precondition_inputs(x, s))
    torch.testing.assert_close(ms.calculate_denoised(sigma, out, x), ref.precondition_outputs(x, out, s))
    torch.testing.assert_close(ms.timestep(sigma), ref.precondition_noise(sigma))
    ref.set_timesteps(12)
    torch.testing.assert_close(calculate_sigmas(ms, "karras", 12), ref.sigmas.float(), rtol=1e-5, atol=1e-6)


def test_edm_vpred_sampling_follows_diffusers_v_prediction(tmp_path: Path) -> None:
    """A CosXL-style file (edm_vpred.sigma_min/max): EDM's preconditioning with σ_data 1 and
    the v-prediction output sign, as diffusers' EDMEulerScheduler(prediction_type="v_prediction")."""
    from diffusers import EDMEulerScheduler

    ms = load_checkpoint(_marked(tmp_path, "edm_vpred")).model.get_model_object("model_sampling")
    ref = EDMEulerScheduler(sigma_min=0.03, sigma_max=160.0, sigma_data=1.0, prediction_type="v_prediction")
    g = torch.Generator().manual_seed(1)
    x, out = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
    sigma = torch.tensor([0.03, 1.0, 160.0])
    s = sigma.view(-1, 1, 1, 1)
    torch.testing.assert_close(ms.calculate_input(sigma, x), ref.precondition_inputs(x, s))
    torch.testing.assert_close(ms.calculate_denoised(sigma, out, x), ref.precondition_outputs(x, out, s))
    torch.testing.assert_close(ms.timestep(sigma), ref.precondition_noise(sigma))


def test_playground_latent_space_and_previews(tmp_path: Path) -> None:
    """Sampling space = (VAE latent − mean)·0.5/std per channel and back, as diffusers' SDXL
    pipelines normalise with Playground's VAE config; previews use Playground's latent→RGB
    factors (no bias) and the SDXL TAESD decoder, as ComfyUI's latent format says."""
    base = load_checkpoint(_marked(tmp_path, "playground")).model.model
    latent = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(2)) * 6
    mean, std = torch.tensor(PLAYGROUND_MEAN).view(1, 4, 1, 1), torch.tensor(PLAYGROUND_STD).view(1, 4, 1, 1)
    torch.testing.assert_close(base.process_latent_in(latent), (latent - mean) * 0.5 / std)
    torch.testing.assert_close(base.process_latent_out(latent), latent * std / 0.5 + mean)
    torch.testing.assert_close(base.process_latent_out(base.process_latent_in(latent)), latent)
    rgb = LatentRGB.of(base.latent_format)
    assert rgb.factors == PLAYGROUND_RGB and rgb.bias is None
    assert base.latent_format.taesd_decoder_name == "taesdxl_decoder"


def test_make_checkpoint_cli_writes_markers(tmp_path: Path) -> None:
    from comfy_core.tools.make_checkpoint import main

    out = tmp_path / "cosxl.safetensors"
    main(["--family", "sdxl", "--markers", "edm_vpred", "--sigma-max", "100", "--sigma-min", "0.01", "--out", str(out)])
    state = load_state_dict(out)
    assert float(state["edm_vpred.sigma_max"]) == 100.0 and float(state["edm_vpred.sigma_min"]) == pytest.approx(0.01)
    assert load_checkpoint(out).model.model.model_config.sampling_settings["sigma_max"] == 100.0
    with pytest.raises(SystemExit):
        main(["--family", "sd21_unclip", "--markers", "v_pred", "--out", str(tmp_path / "x.safetensors")])


@pytest.mark.parametrize("extra", [{"model.diffusion_model.scaled_fp8": torch.tensor([])},
                                   {"model.diffusion_model.input_blocks.0.0.scale_weight": torch.tensor(2.0)},
                                   {"model.diffusion_model.out.2.comfy_quant": torch.zeros(8, dtype=torch.uint8)}])
def test_quantized_unet_files_are_refused_by_name(tmp_path: Path, extra: dict) -> None:
    """ComfyUI's scaled-fp8 and mixed-precision files keep per-layer scales that plain
    weights would ignore: refused, never sampled as garbage."""
    save_file(build_checkpoint(layout("sdxl", "tiny")) | extra, str(tmp_path / "fp8.safetensors"))
    with pytest.raises(CheckpointError, match=r"fp8\.safetensors: quantized UNet weights"):
        load_checkpoint(tmp_path / "fp8.safetensors")
