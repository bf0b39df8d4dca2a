"""--compile: the inductor-compiled UNet forward matches eager, steps aside while weights
are streamed, and its artefacts are cached on disk and reused after a reset."""

from __future__ import annotations

import pytest
import torch

from comfy_core.models.compile import CompileOptions, compile_mode, compile_unet, uncompile_unet
from comfy_core.models.family import FAMILIES, UNetConfig
from comfy_core.loading.checkpoint import model_patcher
from comfy_core.models.unet import UNetModel

# The smallest UNet with res blocks, a cross-attention transformer, skip connections and
# the ADM-free time embedding, so the CPU compile stays short.
MINI = UNetConfig(model_channels=32, channel_mult=(1,), num_res_blocks=(1,), transformer_depth=(1,),
                  transformer_depth_output=(0, 1), transformer_depth_middle=0, context_dim=32,
                  num_heads=2)


def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 4, 8, 8, generator=g), torch.tensor([500.0, 20.0]), torch.randn(2, 7, 32, generator=g)


def _cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on the CPU (its own lookup), or None."""
    from torch._inductor.cpp_builder import get_cpp_compiler
    from torch._inductor.exc import InvalidCxxCompiler

    try:
        return get_cpp_compiler()
    except InvalidCxxCompiler:
        return None


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module):
    cache = tmp_path_factory.mktemp("user") / "compile_cache"
    monkeypatch_module.setenv("TORCHINDUCTOR_CACHE_DIR", str(cache))  # restored afterwards
    monkeypatch_module.setenv("TRITON_CACHE_DIR", str(cache / "triton"))
    torch.manual_seed(0)
    handle = model_patcher(UNetModel(MINI).eval().requires_grad_(False), FAMILIES["sd15"], "cpu", "cpu")
    handle.load("cpu")
    x, t, ctx = _inputs()
    with torch.no_grad():
        eager = handle.model.diffusion_model(x, t, ctx)
    if _cpp_compiler() is None:  # the one precondition; any compile failure is a failure
        pytest.skip("inductor's CPU backend needs a C++ compiler and this machine has none")
    forward = compile_unet(handle, CompileOptions(cache_dir=cache))
    with torch.no_grad():
        out = handle.model.diffusion_model(x, t, ctx)
    yield handle, forward, cache, eager, out
    torch._dynamo.reset()
    uncompile_unet(handle)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_compiled_forward_matches_eager(compiled):
    handle, forward, cache, eager, out = compiled
    assert forward.compiled_calls == 1 and forward.eager_calls == 0
    torch.testing.assert_close(out, eager, rtol=1e-4, atol=1e-4)
    assert compile_unet(handle, CompileOptions()) is forward  # idempotent
    assert (cache / "fxgraph").is_dir()


def test_streamed_weights_run_eager_with_the_same_result(compiled):
    handle, forward, _, eager, _ = compiled
    handle.load("cpu", budget_bytes=handle.model_size() // 3)
    with torch.no_grad():
        out = handle.model.diffusion_model(*_inputs())
    assert forward.eager_calls == 1
    torch.testing.assert_close(out, eager, rtol=0, atol=0)
    handle.load("cpu")


def test_cached_artefacts_are_reused_after_a_reset(compiled):
    from torch._dynamo.utils import counters

    handle, forward, _, eager, _ = compiled
    torch._dynamo.reset()  # drop in-memory compiled code, as a new process would have none
    uncompile_unet(handle)
    hits = counters["inductor"]["fxgraph_cache_hit"]
    again = compile_unet(handle, CompileOptions())
    with torch.no_grad():
        out = handle.model.diffusion_model(*_inputs())
    assert again.compiled_calls == 1
    assert counters["inductor"]["fxgraph_cache_hit"] > hits
    torch.testing.assert_close(out, eager, rtol=1e-4, atol=1e-4)


def test_mode_per_device():
    assert compile_mode(torch.device("cuda", 0)) == "reduce-overhead"
    assert compile_mode(torch.device("cpu")) == "default"


def test_compile_flag_routes_the_ksampler_unet(tmp_path, monkeypatch):
    from comfy_core import runtime
    from comfy_core.files import FolderPaths
    from comfy_core.models.compile import CompiledForward
    from comfy_core.settings import MemoryFlags, Settings
    from nodes.sampling import _maybe_compile

    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "unused"))  # restored after the test
    handle = model_patcher(UNetModel(MINI).eval(), FAMILIES["sd15"], "cpu", "cpu")
    settings = Settings(base_directory=tmp_path, memory=MemoryFlags(compile=True))
    with runtime.use_app(runtime.AppContext(folders=FolderPaths.build(tmp_path), settings=settings)):
        _maybe_compile(handle)
    assert isinstance(handle.model.diffusion_model.forward, CompiledForward)
    assert (tmp_path / "user" / "compile_cache").is_dir()
    uncompile_unet(handle)
    assert not isinstance(handle.model.diffusion_model.forward, CompiledForward)


def test_calls_carrying_plugin_patches_run_eager():
    from comfy_core.models.compile import CompiledForward

    seen = []
    forward = CompiledForward(lambda x, *a, **kw: seen.append(kw) or x, lambda: False, CompileOptions())
    x = torch.zeros(1)
    for options in ({"patches": {"attn2_patch": [print]}}, {"patches_replace": {"attn1": {("input", 1): print}}},
                    {"optimized_attention_override": print}, {"wrappers": {"diffusion_model": {None: [print]}}}):
        forward(x, transformer_options=options)
    assert forward.eager_calls == 4 and forward.compiled_calls == 0
    assert seen[0]["transformer_options"] == {"patches": {"attn2_patch": [print]}}
