"""Sampling honours the MODEL's hooks with ComfyUI's arguments (COMPAT-PLUGINS 3.10, 3.20):
the unet function wrapper, calc-cond-batch / pre-CFG / CFG / post-CFG functions, the cfg-1
shortcut switch, the denoise mask function, the six wrapper types, object-patched model
sampling, the transformer options of each call and ControlNet-like cond objects, on a MODEL
whose network is a linear function (predictions checked by hand)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from function_model import MS, denoised_by_hand, function_model

from comfy_core.loading.checkpoint import model_patcher
from comfy_core.models.family import SD15
from comfy_core.models.patcher import ModelPatcher
from comfy_core.models.unet import UNetModel
from comfy_core.patching.extension import WrappersMP
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.ksampler import sample
from comfy_core.sampling.model_sampling import ModelSampling, SamplingConfig
from comfy_core.sampling.sampler_value import SamplerValue

G = torch.Generator().manual_seed(0)
POS = [[torch.randn(1, 77, 8, generator=G), {}]]
NEG = [[torch.randn(1, 77, 8, generator=G), {}]]


def linear(x, t, context, y):
    return 0.1 * x + context.mean(dim=(1, 2)).view(-1, 1, 1, 1)


class Recorder:
    """The network `linear`, recording what each call receives."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, context, y):
        self.calls.append(x.shape[0])
        return linear(x, t, context, y)


def run(model, cfg=6.0, steps=2, latent=None, **kw):
    latent = latent or {"samples": torch.zeros(1, 4, 8, 8)}
    return sample(model, POS, NEG, latent, seed=3, steps=steps, cfg=cfg, sampler_name="euler", scheduler="karras",
                  **kw)["samples"]


def by_hand(x, sigma, cond):
    return denoised_by_hand(linear, x, sigma, cond[0][0])


def test_model_function_wrapper_gets_comfyui_dict():
    model = function_model(linear).clone()
    seen = []

    def wrapper(apply_model, args):
        seen.append(args)
        return apply_model(args["input"], args["timestep"], **args["c"]) * 0 + 1.5

    model.set_model_unet_function_wrapper(wrapper)
    run(model, steps=1)
    (args,) = seen
    assert set(args) == {"input", "timestep", "c", "cond_or_uncond"} and args["cond_or_uncond"] == [1, 0]
    assert set(args["c"]) == {"c_crossattn", "transformer_options"}
    torch.testing.assert_close(args["c"]["c_crossattn"], torch.cat([NEG[0][0], POS[0][0]]))
    options = args["c"]["transformer_options"]
    assert options["cond_or_uncond"] == [1, 0] and len(options["uuids"]) == 2
    assert options["sigmas"].shape == (1,) and len(options["sample_sigmas"]) == 2
    assert args["timestep"].tolist() == [float(options["sigmas"][0])] * 2


def test_cfg_functions_receive_comfyui_arguments():
    model = function_model(linear).clone()
    seen = {}

    def cfg_fn(args):
        seen["cfg"] = args
        return args["cond"]  # result = x − cond = the positive prediction

    def pre(args):
        seen["pre"] = args
        return [o * 1.0 for o in args["conds_out"]]

    def post(args):
        seen["post"] = args
        return args["denoised"] + 1.0

    model.set_model_sampler_cfg_function(cfg_fn)
    model.set_model_sampler_pre_cfg_function(pre)
    model.set_model_sampler_post_cfg_function(post)
    guider = CFGGuider(model)
    guider.set_conds(POS, NEG)
    guider.set_cfg(5.0)
    x, sigma = torch.randn(1, 4, 8, 8, generator=G), torch.tensor([3.0])
    calls = []
    guider.sample(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8),
                  SamplerValue(lambda m, noise, sigmas, **kw: calls.append(m(x, sigma, **kw["extra_args"])) or noise),
                  torch.tensor([3.0, 0.0]))
    cond, uncond = by_hand(x, sigma, POS), by_hand(x, sigma, NEG)
    torch.testing.assert_close(calls[0], cond + 1.0, rtol=1e-5, atol=1e-5)
    args = seen["cfg"]
    assert set(args) == {"cond", "uncond", "cond_scale", "timestep", "input", "sigma", "cond_denoised",
                         "uncond_denoised", "model", "model_options", "input_cond", "input_uncond"}
    torch.testing.assert_close(args["cond"], x - cond, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(args["uncond_denoised"], uncond, rtol=1e-5, atol=1e-5)
    assert args["cond_scale"] == 5.0 and args["model"] is model.model and args["sigma"] is args["timestep"]
    assert args["input_cond"][0].uuid is not None and args["input_uncond"] is not None
    assert set(seen["pre"]) == {"conds", "conds_out", "cond_scale", "timestep", "input", "sigma", "model",
                                "model_options"}
    assert set(seen["post"]) == {"denoised", "cond", "uncond", "cond_scale", "model", "uncond_denoised",
                                 "cond_denoised", "sigma", "model_options", "input"}
    assert seen["post"]["cond"] is args["input_cond"]  # the cond list, not a prediction


def test_calc_cond_batch_function_and_cfg1_shortcut():
    net = Recorder()
    model = function_model(net).clone()
    run(model, cfg=1.0, steps=2)
    assert net.calls == [1, 1]  # no negative at cfg 1
    twin = model.clone()
    twin.set_model_sampler_post_cfg_function(lambda a: a["denoised"], disable_cfg1_optimization=True)
    run(twin, cfg=1.0, steps=2)
    assert net.calls == [1, 1, 2, 2]
    seen = []

    def batch_fn(args):
        seen.append(sorted(args))
        return [torch.zeros_like(args["input"]), torch.zeros_like(args["input"])]

    zero = model.clone()
    zero.set_model_sampler_calc_cond_batch_function(batch_fn)
    out = run(zero, steps=1)
    assert seen == [["conds", "input", "model", "model_options", "sigma"]]
    assert float(out.abs().max()) < 1e-4 and net.calls == [1, 1, 2, 2]  # euler onto D = 0


def test_denoise_mask_function_only_with_a_noise_mask():
    model = function_model(linear).clone()
    seen = []

    def mask_fn(sigma, mask, extra_options):
        seen.append((sigma.shape, mask.shape, extra_options["model"], len(extra_options["sigmas"])))
        return mask

    model.set_model_denoise_mask_function(mask_fn)
    run(model, steps=2)
    assert seen == []
    mask = torch.ones(1, 64, 64)
    run(model, steps=2, latent={"samples": torch.randn(1, 4, 8, 8, generator=G), "noise_mask": mask})
    assert len(seen) == 2 and seen[0][1] == (1, 4, 8, 8) and isinstance(seen[0][2], CFGGuider) and seen[0][3] == 3


def test_every_wrapper_type_runs_with_its_arguments():
    model = function_model(linear).clone()
    seen = []

    def wrap(kind, arity):
        def wrapper(executor, *args, **kwargs):
            seen.append((kind, len(args), type(executor.class_obj).__name__))
            return executor(*args, **kwargs)
        return wrapper

    for kind, arity in ((WrappersMP.OUTER_SAMPLE, 8), (WrappersMP.SAMPLER_SAMPLE, 8), (WrappersMP.PREDICT_NOISE, 4),
                        (WrappersMP.CALC_COND_BATCH, 5), (WrappersMP.APPLY_MODEL, 6)):
        model.add_wrapper_with_key(kind, "test", wrap(kind, arity))
    plain = run(function_model(linear), steps=1)
    torch.testing.assert_close(run(model, steps=1), plain, rtol=0, atol=0)
    assert seen == [("outer_sample", 8, "CFGGuider"), ("sampler_sample", 8, "SamplerValue"),
                    ("predict_noise", 4, "CFGGuider"), ("calc_cond_batch", 5, "NoneType"),
                    ("apply_model", 6, "BaseModel")]


def test_diffusion_model_wrapper_reaches_the_unet():
    config = dataclasses.replace(SD15.unet, model_channels=32, channel_mult=(1,), num_res_blocks=(1,),
                                 transformer_depth=(1,), transformer_depth_output=(1, 1), context_dim=8, num_heads=2)
    torch.manual_seed(0)
    model = model_patcher(UNetModel(config).eval(), dataclasses.replace(SD15, unet=config), "cpu", "cpu")
    plain = run(model, steps=1)
    seen = []

    def wrapper(executor, *args, **kwargs):
        seen.append((type(executor.class_obj).__name__, len(args), args[5]["cond_or_uncond"]))
        return executor(*args, **kwargs)

    twin = model.clone()
    twin.add_wrapper(WrappersMP.DIFFUSION_MODEL, wrapper)
    torch.testing.assert_close(run(twin, steps=1), plain, rtol=0, atol=0)
    assert seen == [("UNetModel", 6, [1, 0])]


def test_object_patched_model_sampling_is_used_by_sampling():
    v_model = function_model(linear, dataclasses.replace(SD15, prediction="v"))
    patched = function_model(linear).clone()
    patched.add_object_patch("model_sampling", ModelSampling(SamplingConfig(prediction="v")))
    torch.testing.assert_close(run(patched), run(v_model), rtol=0, atol=0)
    assert not torch.allclose(run(function_model(linear)), run(v_model))
    zsnr = function_model(linear).clone()
    zsnr.add_object_patch("model_sampling", ModelSampling(SamplingConfig(zsnr=True)))
    zsnr_family = function_model(linear, dataclasses.replace(SD15, zsnr=True))
    torch.testing.assert_close(run(zsnr), run(zsnr_family), rtol=0, atol=0)


class Control:
    """A ControlNet-like cond object (the protocol of comfy.controlnet.ControlBase)."""

    def __init__(self):
        self.events, self.calls = [], []

    def pre_run(self, model, percent_to_timestep):
        self.events.append(("pre_run", round(float(percent_to_timestep(0.5)), 4)))

    def cleanup(self):
        self.events.append(("cleanup",))

    def get_models(self):
        return []

    def get_control(self, x, t, cond, batched_number, transformer_options):
        self.calls.append((x.shape[0], batched_number, list(transformer_options["cond_or_uncond"])))
        return {"input": [], "middle": [], "output": []}


@pytest.mark.parametrize("to_uncond", [False, True])
def test_control_objects_in_conditioning(to_uncond):
    control = Control()
    pos = [[POS[0][0], {"control": control, "control_apply_to_uncond": to_uncond}]]
    sample(function_model(linear), pos, NEG, {"samples": torch.zeros(1, 4, 8, 8)}, seed=0, steps=2, cfg=5.0,
           sampler_name="euler", scheduler="karras")
    assert control.events == [("pre_run", round(MS.percent_to_sigma(0.5), 4)), ("cleanup",)]
    if to_uncond:  # one batch: the negative shares the control
        assert control.calls == [(2, 2, [1, 0])] * 2
    else:  # the positive alone has it: separate calls
        assert control.calls == [(1, 1, [0])] * 2


class GligenModule(torch.nn.Module):
    """A GLIGEN-like model: `set_position(shape, positions, device)` gives the middle patch
    of the entry's calls (ComfyUI's `gligen` cond key holds it behind a patcher, which the
    sampler loads with the UNet)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def set_position(self, shape, positions, device):
        self.seen.append((tuple(shape), positions))

        def middle(x, extra):
            self.seen.append(("patch", extra["block"]))
            return x

        return middle


def test_gligen_entries_bring_their_middle_patch():
    config = dataclasses.replace(SD15.unet, model_channels=32, channel_mult=(1,), num_res_blocks=(1,),
                                 transformer_depth=(1,), transformer_depth_output=(1, 1), context_dim=8, num_heads=2)
    torch.manual_seed(0)
    model = model_patcher(UNetModel(config).eval(), dataclasses.replace(SD15, unet=config), "cpu", "cpu")
    gligen = GligenModule()
    pos = [[POS[0][0], {"gligen": ("position", ModelPatcher(gligen, "cpu", "cpu"), [(4, 4, 0, 0)])}]]
    calls = []
    model.set_model_unet_function_wrapper(lambda apply, a: calls.append(a["cond_or_uncond"]) or apply(
        a["input"], a["timestep"], **a["c"]))
    sample(model, pos, NEG, {"samples": torch.zeros(1, 4, 8, 8)}, seed=0, steps=1, cfg=5.0, sampler_name="euler",
           scheduler="karras")
    assert calls == [[0], [1]]  # the entry with its own patch runs apart from the negative
    assert gligen.seen[0] == ((1, 4, 8, 8), [(4, 4, 0, 0)])
    assert [s[1] for s in gligen.seen[1:]] == [("input", 1), ("middle", 0), ("output", 0), ("output", 1)]
