"""The custom-sampling nodes in workflows through the real validator and executor on a tiny
generated SD1.5 checkpoint: one graph per family (schedulers and σ tools, noise, sampler
nodes into SamplerCustom), each node's output checked against the library call it wraps;
and SamplerCustom with KSamplerSelect + BasicScheduler giving KSampler's latent."""

from __future__ import annotations

import threading

import pytest
import torch
from nodes_models_helpers import build_models, empty_latent, encode, ksample, load, run

import nodes
from comfy_core import runtime
from comfy_core.execution import Executor, make_cache
from comfy_core.files import FolderPaths
from comfy_core.graph import validate_prompt
from comfy_core.images.latent_files import load_latent
from comfy_core.registry import NodeRegistry
from comfy_core.sampling import schedules, schedules_published, sigma_tools
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.settings import Settings
from nodes.utility import preview_text

MS = ModelSampling()
CKPT = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15_tiny.safetensors"}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = build_models(tmp_path_factory.mktemp("custom_sampling"), ("sd15",))
    folders = FolderPaths.build(base)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))) as ctx:
        yield ctx


def execute(prompt: dict):
    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    checked = validate_prompt(registry, prompt)
    assert checked.ok, checked
    result = Executor(registry, make_cache("classic")).run(checked.prompt, "p", {}, checked.outputs, lambda e: None,
                                                          threading.Event())
    assert result.status_str == "success", result.error
    return result


def previews(prompt: dict, shown: dict) -> dict:
    """The prompt plus a PreviewAny per (node, output) in `shown`; {name: node id}."""
    ids = {}
    for i, (name, link) in enumerate(shown.items()):
        ids[name] = f"p{i}"
        prompt[ids[name]] = {"class_type": "PreviewAny", "inputs": {"source": link}}
    return ids


def test_schedulers_and_sigma_tools_workflow(app):
    n = lambda cls, **inputs: {"class_type": cls, "inputs": inputs}  # noqa: E731
    prompt = {
        "1": CKPT,
        "2": n("BasicScheduler", model=["1", 0], scheduler="karras", steps=6, denoise=0.5),
        "3": n("KarrasScheduler", steps=5, sigma_max=14.614642, sigma_min=0.0291675, rho=7.0),
        "4": n("ExponentialScheduler", steps=5, sigma_max=10.0, sigma_min=0.1),
        "5": n("PolyexponentialScheduler", steps=5, sigma_max=10.0, sigma_min=0.1, rho=2.0),
        "6": n("LaplaceScheduler", steps=5, sigma_max=10.0, sigma_min=0.1, mu=0.0, beta=0.5),
        "7": n("VPScheduler", steps=5, beta_d=19.9, beta_min=0.1, eps_s=0.001),
        "8": n("BetaSamplingScheduler", model=["1", 0], steps=5, alpha=0.6, beta=0.6),
        "9": n("SDTurboScheduler", model=["1", 0], steps=2, denoise=1.0),
        "10": n("AlignYourStepsScheduler", model_type="SDXL", steps=12, denoise=1.0),
        "11": n("GITSScheduler", coeff=1.2, steps=8, denoise=0.5),
        "12": n("SplitSigmas", sigmas=["3", 0], step=2),
        "13": n("SplitSigmasDenoise", sigmas=["3", 0], denoise=0.4),
        "14": n("FlipSigmas", sigmas=["3", 0]),
        "15": n("SetFirstSigma", sigmas=["14", 0], sigma=20.0),
        "16": n("ExtendIntermediateSigmas", sigmas=["4", 0], steps=3, start_at_sigma=-1.0, end_at_sigma=1.0,
                spacing="sine"),
        "17": n("SamplingPercentToSigma", model=["1", 0], sampling_percent=0.0, return_actual_sigma=True),
        "18": n("ManualSigmas", sigmas="3, 1.5, 0"),
    }
    karras = schedules.karras(5, 0.0291675, 14.614642, 7.0)
    expected = {
        "basic": schedules.calculate_sigmas(MS, "karras", 12)[-7:],
        "karras": karras,
        "exponential": schedules.exponential(5, 0.1, 10.0),
        "poly": schedules.polyexponential(5, 0.1, 10.0, 2.0),
        "laplace": schedules.laplace(5, 0.1, 10.0, 0.0, 0.5),
        "vp": schedules.vp(5),
        "beta": schedules.sigmas_beta(MS, 5),
        "turbo": schedules_published.sd_turbo(MS, 2),
        "ays": schedules_published.align_your_steps("SDXL", 12),
        "gits": schedules_published.gits(1.2, 8, 0.5),
        "high": karras[:3], "low": karras[2:],
        "high_d": sigma_tools.split_denoise(karras, 0.4)[0], "low_d": karras[-3:],
        "flip": sigma_tools.flip(karras), "first": sigma_tools.set_first(sigma_tools.flip(karras), 20.0),
        "extend": sigma_tools.extend_intermediate(schedules.exponential(5, 0.1, 10.0), 3, -1.0, 1.0, "sine"),
        "percent": float(MS.sigma_max), "manual": torch.FloatTensor([3.0, 1.5, 0.0]),
    }
    links = dict(zip(expected, [["2", 0], ["3", 0], ["4", 0], ["5", 0], ["6", 0], ["7", 0], ["8", 0], ["9", 0],
                                ["10", 0], ["11", 0], ["12", 0], ["12", 1], ["13", 0], ["13", 1], ["14", 0],
                                ["15", 0], ["16", 0], ["17", 0], ["18", 0]]))
    ids = previews(prompt, links)
    result = execute(prompt)
    for name, value in expected.items():
        assert result.outputs[ids[name]] == {"text": [preview_text(value)]}, name
    assert len(expected["extend"]) == 6 + 3 * 2  # the 3 steps starting at σ ≥ 1 get 2 more points each


def test_noise_workflow(app):
    node = lambda cls, **inputs: {"class_type": cls, "inputs": inputs}  # noqa: E731
    prompt = {
        "1": CKPT,
        "2": node("EmptyLatentImage", width=64, height=64, batch_size=1),
        "3": node("RandomNoise", noise_seed=1),
        "4": node("RandomNoise", noise_seed=9),
        "5": node("DisableNoise"),
        "6": node("KarrasScheduler", steps=4, sigma_max=10.0, sigma_min=0.1, rho=7.0),
        "7": node("AddNoise", model=["1", 0], noise=["3", 0], sigmas=["6", 0], latent_image=["2", 0]),
        "8": node("AddNoise", model=["1", 0], noise=["4", 0], sigmas=["6", 0], latent_image=["7", 0]),
        "9": node("AddNoise", model=["1", 0], noise=["5", 0], sigmas=["6", 0], latent_image=["8", 0]),
        "10": node("SaveLatent", samples=["7", 0], filename_prefix="noise/first"),
        "11": node("SaveLatent", samples=["9", 0], filename_prefix="noise/second"),
    }
    execute(prompt)
    folder = app.folders.output_dir / "noise"
    first, second = load_latent(folder / "first_00001_.latent"), load_latent(folder / "second_00001_.latent")
    draw = lambda seed: torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    # noise at the schedule's span |σ_0 − σ_last| = 10 in the model's latent scale; an empty
    # latent is not scaled; DisableNoise adds nothing
    torch.testing.assert_close(first["samples"], draw(1) * 10.0 / 0.18215, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(second["samples"], first["samples"] + draw(9) * 10.0 / 0.18215, atol=1e-4,
                               rtol=1e-5)


SAMPLER_NODES = {
    "KSamplerSelect": {"sampler_name": "dpmpp_2m"},
    "SamplerEulerAncestral": {"eta": 0.5, "s_noise": 1.0},
    "SamplerEulerAncestralCFGPP": {"eta": 1.0, "s_noise": 1.0},
    "SamplerLMS": {"order": 3},
    "SamplerDPMPP_3M_SDE": {"eta": 1.0, "s_noise": 1.0, "noise_device": "cpu"},
    "SamplerDPMPP_2M_SDE": {"solver_type": "heun", "eta": 1.0, "s_noise": 1.0, "noise_device": "gpu"},
    "SamplerDPMPP_SDE": {"eta": 1.0, "s_noise": 1.0, "r": 0.5, "noise_device": "cpu"},
    "SamplerDPMPP_2S_Ancestral": {"eta": 1.0, "s_noise": 1.0},
    "SamplerDPMAdaptative": {"order": 2, "rtol": 1.0, "atol": 1.0, "h_init": 2.0, "pcoeff": 0.0, "icoeff": 1.0,
                             "dcoeff": 0.0, "accept_safety": 0.81, "eta": 0.0, "s_noise": 1.0},
    "SamplerER_SDE": {"solver_type": "Reverse-time SDE", "max_stage": 2, "eta": 0.5, "s_noise": 1.0},
    "SamplerSASolver": {"model": ["1", 0], "eta": 1.0, "sde_start_percent": 0.2, "sde_end_percent": 0.8,
                        "s_noise": 1.0, "predictor_order": 2, "corrector_order": 2, "use_pece": False,
                        "simple_order_2": True},
    "SamplerSEEDS2": {"solver_type": "phi_2", "eta": 1.0, "s_noise": 1.0, "r": 0.5},
    "SamplerLCMUpscale": {"scale_ratio": 1.5, "scale_steps": 1, "upscale_method": "bilinear"},
    "SamplerEulerCFGpp": {"version": "alternative"},
}


# Sampled in the workflow (the others run and are shown; their options are checked below).
SAMPLED = ("KSamplerSelect", "SamplerSASolver", "SamplerLCMUpscale", "SamplerEulerCFGpp")


def test_every_sampler_node_runs_and_samples_through_sampler_custom(app):
    prompt = {
        "1": CKPT,
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a red circle"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "5": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 2,
                                                          "denoise": 1.0}},
    }
    for i, (name, inputs) in enumerate(SAMPLER_NODES.items()):
        prompt[f"s{i}"] = {"class_type": name, "inputs": inputs}
        if name not in SAMPLED:
            prompt[f"o{i}"] = {"class_type": "PreviewAny", "inputs": {"source": [f"s{i}", 0]}}
            continue
        prompt[f"c{i}"] = {"class_type": "SamplerCustom", "inputs": {
            "model": ["1", 0], "add_noise": True, "noise_seed": 4, "cfg": 1.0, "positive": ["2", 0],
            "negative": ["3", 0], "sampler": [f"s{i}", 0], "sigmas": ["5", 0], "latent_image": ["4", 0]}}
        prompt[f"o{i}"] = {"class_type": "SaveLatent", "inputs": {"samples": [f"c{i}", 0],
                                                                 "filename_prefix": f"samplers/{name}"}}
    result = execute(prompt)
    assert sum("text" in ui for ui in result.outputs.values()) == len(SAMPLER_NODES) - len(SAMPLED)
    for name in SAMPLED:
        samples = load_latent(app.folders.output_dir / "samplers" / f"{name}_00001_.latent")["samples"]
        size = 12 if name == "SamplerLCMUpscale" else 8  # 8·1.5: grown during the first step
        assert samples.shape == (1, 4, size, size) and torch.isfinite(samples).all(), name


def test_sampler_nodes_hand_their_options_to_the_sampler(app):
    model, _, _ = load("sd15")
    expected = {  # node -> (sampler function, options it passes)
        "KSamplerSelect": ("sample_dpmpp_2m", {}),
        "SamplerEulerAncestral": ("sample_euler_ancestral", {"eta": 0.5, "s_noise": 1.0}),
        "SamplerLMS": ("sample_lms", {"order": 3}),
        "SamplerDPMPP_3M_SDE": ("sample_dpmpp_3m_sde", {"eta": 1.0, "s_noise": 1.0}),
        "SamplerDPMPP_2M_SDE": ("sample_dpmpp_2m_sde_gpu", {"eta": 1.0, "s_noise": 1.0, "solver_type": "heun"}),
        "SamplerDPMPP_SDE": ("sample_dpmpp_sde", {"eta": 1.0, "s_noise": 1.0, "r": 0.5}),
        "SamplerSEEDS2": ("sample_seeds_2", {"eta": 1.0, "s_noise": 1.0, "r": 0.5, "solver_type": "phi_2"}),
        "SamplerEulerCFGpp": ("sample_euler_cfg_pp_alternative", {}),
        "SamplerLCMUpscale": ("sample_lcm_upscale", {"total_upscale": 1.5, "upscale_steps": 1,
                                                     "upscale_method": "bilinear"}),
    }
    for name, (function, options) in expected.items():
        inputs = {k: (model if v == ["1", 0] else v) for k, v in SAMPLER_NODES[name].items()}
        (value,) = run(name, **inputs)
        assert (value.sampler_function.__name__, value.extra_options) == (function, options), name
    (er,) = run("SamplerER_SDE", **SAMPLER_NODES["SamplerER_SDE"])
    assert er.extra_options["max_stage"] == 2
    assert float(er.extra_options["noise_scaler"](torch.tensor(2.0))) == pytest.approx(2.0**1.5)
    (ode,) = run("SamplerER_SDE", solver_type="ODE", max_stage=3, eta=1.0, s_noise=1.0)
    assert ode.extra_options["s_noise"] == 0 and float(ode.extra_options["noise_scaler"](torch.tensor(3.0))) == 3.0
    inputs = {k: (model if v == ["1", 0] else v) for k, v in SAMPLER_NODES["SamplerSASolver"].items()}
    (sa,) = run("SamplerSASolver", **inputs)
    tau = sa.extra_options["tau_func"]
    assert tau(MS.percent_to_sigma(0.5)) == 1.0 and tau(MS.percent_to_sigma(0.9)) == 0.0
    (ddim,) = run("KSamplerSelect", sampler_name="ddim")
    assert ddim.sampler_function.__name__ == "sample_ddim" and ddim.inpaint_options == {"random": True}


def test_guiders_workflow(app):
    node = lambda cls, **inputs: {"class_type": cls, "inputs": inputs}  # noqa: E731
    prompt = {
        "1": CKPT,
        "2": node("CLIPTextEncode", clip=["1", 1], text="a red circle"),
        "3": node("CLIPTextEncode", clip=["1", 1], text="a blue square"),
        "4": node("CLIPTextEncode", clip=["1", 1], text=""),
        "5": node("EmptyLatentImage", width=64, height=64, batch_size=1),
        "6": node("RandomNoise", noise_seed=3),
        "7": node("KSamplerSelect", sampler_name="euler"),
        "8": node("BasicScheduler", model=["1", 0], scheduler="normal", steps=1, denoise=1.0),
        "g0": node("CFGGuider", model=["1", 0], positive=["2", 0], negative=["4", 0], cfg=5.0),
        "g1": node("DualCFGGuider", model=["1", 0], cond1=["2", 0], cond2=["3", 0], negative=["4", 0],
                   cfg_conds=3.0, cfg_cond2_negative=4.0, style="nested"),
        "g2": node("BasicGuider", model=["1", 0], conditioning=["2", 0]),
        "g3": node("PerpNegGuider", model=["1", 0], positive=["2", 0], negative=["3", 0],
                   empty_conditioning=["4", 0], cfg=5.0, neg_scale=1.0),
    }
    for i in range(4):
        prompt[f"s{i}"] = node("SamplerCustomAdvanced", noise=["6", 0], guider=[f"g{i}", 0], sampler=["7", 0],
                               sigmas=["8", 0], latent_image=["5", 0])
        prompt[f"o{i}"] = node("SaveLatent", samples=[f"s{i}", 1], filename_prefix=f"guiders/g{i}")
    execute(prompt)
    outs = [load_latent(app.folders.output_dir / "guiders" / f"g{i}_00001_.latent")["samples"] for i in range(4)]
    assert all(o.shape == (1, 4, 8, 8) and torch.isfinite(o).all() for o in outs)
    assert len({round(float(o.abs().sum()), 4) for o in outs}) == 4  # each guider combines differently


def test_custom_samplers_with_select_and_basic_scheduler_are_ksampler(app):
    """SamplerCustom, and SamplerCustomAdvanced with RandomNoise + CFGGuider, give
    KSampler's latent for the same settings (as in ComfyUI)."""
    model, clip, _ = load("sd15")
    pos, neg = encode(clip, "a red circle"), encode(clip, "blurry")
    (sampler,) = run("KSamplerSelect", sampler_name="dpmpp_2m_sde")
    (sigmas,) = run("BasicScheduler", model=model, scheduler="karras", steps=2, denoise=1.0)
    out, denoised = run("SamplerCustom", model=model, add_noise=True, noise_seed=11, cfg=6.5, positive=pos,
                        negative=neg, sampler=sampler, sigmas=sigmas, latent_image=empty_latent())
    reference = ksample(model, pos, neg, empty_latent(), seed=11, steps=2, cfg=6.5, sampler="dpmpp_2m_sde",
                        scheduler="karras")
    torch.testing.assert_close(out["samples"], reference["samples"], atol=0, rtol=0)
    (noise,) = run("RandomNoise", noise_seed=11)
    (guider,) = run("CFGGuider", model=model, positive=pos, negative=neg, cfg=6.5)
    advanced, advanced_denoised = run("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler,
                                      sigmas=sigmas, latent_image=empty_latent())
    torch.testing.assert_close(advanced["samples"], reference["samples"], atol=0, rtol=0)
    # the last step's denoised estimate, which this sampler's final step returns as is
    assert torch.equal(denoised["samples"], out["samples"])
    assert torch.equal(advanced_denoised["samples"], out["samples"])
