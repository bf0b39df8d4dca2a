"""The model-side facades in-process on a tiny SD1.5 checkpoint: ComfyUI's names in `nodes`
(common_ksampler, the classes' method signatures, the live NODE_CLASS_MAPPINGS),
comfy.utils, comfy.model_management, latent_preview, node_helpers and execution."""

import inspect
import threading

import pytest
import torch
import torch.nn.functional as F

import nodes
from comfy_core import runtime
from tests.compat.plugin_host import plugin_host
from tests.fixtures.checkpoints import make_tiny_checkpoint

# COMPAT-PLUGINS 4: packs call these methods positionally.
SIGNATURES = {
    ("CLIPTextEncode", "encode"): "clip text",
    ("LoraLoader", "load_lora"): "model clip lora_name strength_model strength_clip",
    ("LoraLoaderModelOnly", "load_lora_model_only"): "model lora_name strength_model",
    ("CheckpointLoaderSimple", "load_checkpoint"): "ckpt_name",
    ("VAEDecode", "decode"): "vae samples",
    ("VAEDecodeTiled", "decode"): "vae samples tile_size overlap temporal_size temporal_overlap",
    ("VAEEncode", "encode"): "vae pixels",
    ("VAEEncodeTiled", "encode"): "vae pixels tile_size overlap temporal_size temporal_overlap",
    ("InpaintModelConditioning", "encode"): "positive negative pixels vae mask noise_mask",
    ("ConditioningCombine", "combine"): "conditioning_1 conditioning_2",
    ("ConditioningConcat", "concat"): "conditioning_to conditioning_from",
    ("ConditioningAverage", "addWeighted"): "conditioning_to conditioning_from conditioning_to_strength",
    ("ConditioningSetArea", "append"): "conditioning width height x y strength",
    ("ConditioningZeroOut", "zero_out"): "conditioning",
    ("ConditioningSetTimestepRange", "set_range"): "conditioning start end",
    ("CLIPSetLastLayer", "set_last_layer"): "clip stop_at_clip_layer",
    ("CLIPLoader", "load_clip"): "clip_name type device",
    ("DualCLIPLoader", "load_clip"): "clip_name1 clip_name2 type device",
    ("VAELoader", "load_vae"): "vae_name",
    ("ControlNetLoader", "load_controlnet"): "control_net_name",
    ("ControlNetApply", "apply_controlnet"): "conditioning control_net image strength",
    ("ControlNetApplyAdvanced", "apply_controlnet"): "positive negative control_net image strength "
                                                     "start_percent end_percent vae extra_concat",
    ("DiffusersLoader", "load_checkpoint"): "model_path output_vae output_clip",
    ("EmptyLatentImage", "generate"): "width height batch_size",
    ("LatentUpscaleBy", "upscale"): "samples upscale_method scale_by",
    ("LatentComposite", "composite"): "samples_to samples_from x y composite_method feather",
    ("KSampler", "sample"): "model seed steps cfg sampler_name scheduler positive negative "
                            "latent_image denoise",
    ("KSamplerAdvanced", "sample"): "model add_noise noise_seed steps cfg sampler_name scheduler "
                                    "positive negative latent_image start_at_step end_at_step "
                                    "return_with_leftover_noise denoise",
    ("SaveImage", "save_images"): "images filename_prefix prompt extra_pnginfo",
    ("PreviewImage", "save_images"): "images filename_prefix prompt extra_pnginfo",
    ("LoadImage", "load_image"): "image",
    ("ImageScale", "upscale"): "image upscale_method width height crop",
    ("ImageScaleBy", "upscale"): "image upscale_method scale_by",
    ("ImageBatch", "batch"): "image1 image2",
    ("SaveLatent", "save"): "samples filename_prefix prompt extra_pnginfo",
}


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    base = tmp_path_factory.mktemp("model_side")
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    for name in ("input", "output", "temp"):
        (base / name).mkdir(parents=True, exist_ok=True)
    with plugin_host(base) as bound:
        yield bound


@pytest.fixture(scope="module")
def sd15(host):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint("sd15_tiny.safetensors")
    pos = nodes.CLIPTextEncode().encode(clip, "a red circle")[0]
    neg = nodes.CLIPTextEncode().encode(clip, "")[0]
    return model, clip, vae, pos, neg


def test_node_methods_take_comfyuis_parameters_in_order(host):
    for (name, method), params in SIGNATURES.items():
        cls = getattr(nodes, name)
        got = [p for p in inspect.signature(getattr(cls, method)).parameters if p != "self"]
        assert got[:len(params.split())] == params.split(), (name, method, got)
    assert nodes.MAX_RESOLUTION == 16384 and nodes.ImageScale.crop_methods == ["disabled", "center"]


def test_node_class_mappings_is_the_running_registry(host):
    class PackNode:
        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        def run(self):
            return (1,)

    assert nodes.NODE_CLASS_MAPPINGS["KSampler"] is nodes.KSampler
    host.registry.register_mappings({"PackNode": PackNode}, None, "custom_nodes.pack")
    assert nodes.NODE_CLASS_MAPPINGS["PackNode"] is PackNode and "PackNode" in nodes.NODE_CLASS_MAPPINGS
    nodes.NODE_CLASS_MAPPINGS["KSampler"] = PackNode  # core names stay core
    assert nodes.NODE_CLASS_MAPPINGS["KSampler"] is nodes.KSampler
    nodes.EXTENSION_WEB_DIRS["probe"] = "/somewhere"
    assert host.web_dirs["probe"] == "/somewhere"


def test_common_ksampler_is_ksampler(host, sd15):
    model, _, _, pos, neg = sd15
    latent = {**nodes.EmptyLatentImage().generate(32, 32, 1)[0], "batch_index": [3]}
    ours = nodes.KSampler().sample(model, 5, 2, 6.0, "euler", "normal", pos, neg, latent, 1.0)[0]
    pack = nodes.common_ksampler(model, 5, 2, 6.0, "euler", "normal", pos, neg, latent)[0]
    assert torch.equal(ours["samples"], pack["samples"]) and pack["batch_index"] == [3]
    assert pack is not latent and latent["samples"].count_nonzero() == 0
    advanced = nodes.KSamplerAdvanced().sample(model, "disable", 7, 3, 6.0, "euler", "normal",
                                               pos, neg, ours, 1, 2, "enable")[0]
    pack = nodes.common_ksampler(model, 7, 3, 6.0, "euler", "normal", pos, neg, ours,
                                 disable_noise=True, start_step=1, last_step=2,
                                 force_full_denoise=False)[0]
    assert torch.equal(advanced["samples"], pack["samples"])
    assert not torch.equal(pack["samples"], ours["samples"])


def test_model_management_over_our_memory_manager(host, sd15):
    import comfy.model_management as mm

    model = sd15[0]
    assert mm.get_torch_device() == host.memory.device == mm.intermediate_device()
    mm.load_models_gpu([model])
    assert model in mm.loaded_models() and mm.vram_state == mm.VRAMState.DISABLED
    assert mm.get_free_memory() > 0 and mm.unet_dtype() == torch.float32
    assert not mm.should_use_fp16(torch.device("cpu"))
    t = torch.zeros(2)
    assert mm.cast_to_device(t, "cpu", torch.float32) is t
    job = runtime.JobContext("p")
    with runtime.use_job(job):
        assert not mm.processing_interrupted()
        mm.interrupt_current_processing()
        assert mm.processing_interrupted()
        with pytest.raises(mm.InterruptProcessingException):
            mm.throw_exception_if_processing_interrupted()
    with pytest.raises(TypeError, match="not a model"):
        mm.load_models_gpu([object()])


def test_progress_bar_and_latent_preview(host, sd15):
    import comfy.utils
    import latent_preview
    from comfy.cli_args import LatentPreviewMethod, args

    seen = []
    job = runtime.JobContext("p", node_id="4", on_progress=lambda v, m, p: seen.append((v, m, p)))
    args.preview_method = LatentPreviewMethod.Auto
    with runtime.use_job(job):
        callback = latent_preview.prepare_callback(sd15[0], 3, x0s := {})
        callback(0, torch.randn(1, 4, 8, 8), None, 3)
        args.preview_method = LatentPreviewMethod.NoPreviews  # read at call time
        latent_preview.prepare_callback(sd15[0], 3)(1, torch.randn(1, 4, 8, 8), None, 3)
        args.preview_method = LatentPreviewMethod.Auto
        bar = comfy.utils.ProgressBar(5)
        bar.update(2)
        bar.update_absolute(9)
        job.interrupt.set()
        with pytest.raises(runtime.Interrupted):
            bar.update(1)
    assert seen[0][:2] == (1, 3) and seen[0][2][0] == "JPEG" and seen[0][2][1].size == (8, 8)
    assert seen[1] == (2, 3, None) and seen[2:] == [(2, 5, None), (5, 5, None)]
    assert x0s["x0"].shape == (1, 4, 8, 8)


def test_utils_helpers(host, tmp_path):
    import comfy.utils as cu

    path = tmp_path / "w.safetensors"
    cu.save_torch_file({"a.b": torch.ones(2), "c": torch.zeros(3, dtype=torch.float16)}, str(path),
                       metadata={"k": "v"})
    sd, meta = cu.load_torch_file(str(path), return_metadata=True)
    assert meta == {"k": "v"} and cu.calculate_parameters(sd) == 5
    assert cu.weight_dtype(sd) == torch.float16
    (tmp_path / "w.ckpt").write_bytes(b"not read")
    with pytest.raises(ValueError, match="w.ckpt.*pickle"):
        cu.load_torch_file(str(tmp_path / "w.ckpt"))
    renamed = cu.state_dict_prefix_replace({"x.1": 1, "y": 2}, {"x.": "z."}, filter_keys=True)
    assert renamed == {"z.1": 1}
    image = torch.rand(1, 3, 16, 12)
    assert torch.equal(cu.common_upscale(image, 6, 8, "bilinear", "disabled"),
                       F.interpolate(image, size=(8, 6), mode="bilinear"))
    assert cu.common_upscale(torch.rand(1, 3, 2, 16, 12), 6, 8, "nearest-exact", "center").shape == (1, 3, 2, 8, 6)
    assert cu.get_tiled_scale_steps(100, 50, 64, 64, 8) == 2
    out = cu.tiled_scale(image, lambda t: F.interpolate(t, scale_factor=2), tile_x=8, tile_y=8,
                         overlap=2, upscale_amount=2, out_channels=3)
    assert out.shape == (1, 3, 32, 24) and torch.allclose(out, F.interpolate(image, scale_factor=2), atol=1e-6)
    assert cu.resize_to_batch_size(torch.arange(4), 2).tolist() == [0, 3]
    assert cu.repeat_to_batch_size(torch.arange(2), 5).tolist() == [0, 1, 0, 1, 0]


def test_node_helpers(host):
    import node_helpers

    cond = [[torch.zeros(1), {"a": [1]}]]
    out = node_helpers.conditioning_set_values(cond, {"a": [2], "b": 3}, append=True)
    assert out[0][1] == {"a": [1, 2], "b": 3} and cond[0][1] == {"a": [1]}
    dst, src = node_helpers.image_alpha_fix(torch.zeros(1, 2, 2, 3), torch.zeros(1, 2, 2, 4))
    assert dst.shape[-1] == 4 and dst[..., 3].eq(1).all()
    assert node_helpers.string_to_torch_dtype("bf16") == torch.bfloat16


def test_prompt_executor_runs_with_the_servers_nodes(host):
    import execution

    class Server:
        client_id = None

        def __init__(self):
            self.sent = []

        def send_sync(self, event, data, sid=None):
            self.sent.append((event, sid))

    server = Server()
    executor = execution.PromptExecutor(server)
    prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 7}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    executor.execute(prompt, "pid", {"client_id": "c"}, ["2"])
    assert executor.success and executor.history_result["outputs"]["2"]["text"] == ["7"]
    assert ("execution_success", "c") in server.sent
    executor.execute({"1": {"class_type": "LoadImage", "inputs": {"image": "missing.png"}},
                      "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}},
                     "pid2", {}, ["2"])
    assert not executor.success and executor.status_messages[-1][0] == "execution_error"
    assert threading.current_thread() is threading.main_thread()


def test_comfy_sample_matches_ksampler(host, sd15):
    import comfy.sample
    import comfy.samplers

    model, _, _, pos, neg = sd15
    latent = nodes.EmptyLatentImage().generate(32, 32, 1)[0]
    ours = nodes.KSampler().sample(model, 3, 2, 5.0, "euler", "karras", pos, neg, latent, 1.0)[0]
    noise = comfy.sample.prepare_noise(latent["samples"], 3)
    pack = comfy.sample.sample(model, noise, 2, 5.0, "euler", "karras", pos, neg, latent["samples"])
    assert torch.allclose(pack, ours["samples"], atol=1e-5)
    assert comfy.samplers.KSampler.SAMPLERS is comfy.samplers.SAMPLER_NAMES
    sampler = comfy.samplers.KSampler(model, 4, "cpu", sampler="no-such", scheduler="no-such")
    assert (sampler.sampler, sampler.scheduler) == (comfy.samplers.SAMPLER_NAMES[0],
                                                    comfy.samplers.SCHEDULER_NAMES[0])
    assert len(sampler.sigmas) == 5  # the schedule is computed at construction
    comfy.samplers.SCHEDULER_HANDLERS["flat"] = comfy.samplers.SchedulerHandler(
        lambda model_sampling, steps: torch.linspace(1.0, 0.0, steps + 1))
    from comfy_core.sampling.model_call import model_sampling_of

    assert comfy.samplers.calculate_sigmas(model_sampling_of(model), "flat", 2).tolist() == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="error invalid scheduler nope"):
        comfy.samplers.calculate_sigmas(model_sampling_of(model), "nope", 2)
    del comfy.samplers.SCHEDULER_HANDLERS["flat"]


def test_controlnet_facade_loads_our_control_values(host, tmp_path):
    import comfy.controlnet
    from comfy_core.tools.make_controlnet import write_controlnet

    path = tmp_path / "cn.safetensors"
    write_controlnet("ldm", "sd15", path)
    control = comfy.controlnet.load_controlnet(str(path))
    assert isinstance(control, comfy.controlnet.ControlNet)
    assert isinstance(control, comfy.controlnet.ControlBase)
    assert control.copy().strength == control.strength
    assert comfy.controlnet.load_controlnet(str(host.folders.base_dir / "models" / "checkpoints"
                                                / "sd15_tiny.safetensors")) is None
    assert issubclass(comfy.controlnet.ControlNetSD35, comfy.controlnet.ControlNet)
    import comfy.sampler_helpers as helpers

    cond = [[torch.zeros(1, 77, 768), {"control": control}]]
    models, memory = helpers.get_additional_models({"positive": cond, "negative": cond},
                                                   torch.float32)
    assert models == control.get_models() and memory >= 0
    assert helpers.get_models_from_cond(cond, "control") == [control]
    mask = helpers.prepare_mask(torch.ones(1, 16, 16), (2, 4, 4, 4), "cpu")
    assert mask.shape == (2, 4, 4, 4) and bool(mask.eq(1).all())
