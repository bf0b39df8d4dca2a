"""`comfy_api` as plugins import it: the same classes as our V3 schema, `ui` loaded on
first use (the engine stays torch-free), feature flags, set_progress on the running job."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.registry.v3 import io as our_io

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def compat_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "compat"))


def test_names_plugins_import_are_our_classes():
    from comfy_api.latest import IO, UI, ComfyExtension, io, ui
    from comfy_api.v0_0_2 import ComfyExtension as Ext2, io as io2

    assert io.ComfyNode is our_io.ComfyNode and IO is io and io2.Schema is our_io.Schema
    assert Ext2 is ComfyExtension and UI is ui and ui.PreviewImage.__name__ == "PreviewImage"
    for name in ("Int", "Float", "String", "Boolean", "Combo", "MultiCombo", "Image", "Mask",
                 "Latent", "Conditioning", "Model", "Clip", "Vae", "ControlNet", "UpscaleModel",
                 "Sigmas", "Sampler", "Noise", "Guider", "AnyType", "Custom", "MultiType",
                 "MatchType", "Autogrow", "DynamicCombo", "Hidden", "NodeOutput", "Schema",
                 "FolderType", "UploadType", "NumberDisplay", "RemoteOptions", "comfytype"):
        assert hasattr(io, name), name


def test_importing_the_api_without_ui_imports_no_torch():
    code = ("import sys; sys.path.insert(0, 'compat')\n"
            "from comfy_api.latest import io, ComfyExtension\n"
            "import comfy_api.v0_0_2, comfy_api.feature_flags\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "from comfy_api.latest import ui\n"
            "assert 'torch' in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_feature_flags():
    from comfy_api.feature_flags import get_connection_feature, get_server_features, supports_feature

    meta = {"a": {"feature_flags": {"supports_preview_metadata": True, "odd": "yes"}}}
    assert supports_feature(meta, "a", "supports_preview_metadata") is True
    assert supports_feature(meta, "a", "odd") is False and supports_feature(meta, "b", "x") is False
    assert get_connection_feature(meta, "a", "odd") == "yes"
    assert get_connection_feature(meta, "b", "odd", 3) == 3
    assert get_server_features()["supports_preview_metadata"] is True


def test_server_feature_flags_stay_one_dict(monkeypatch, tmp_path):
    """What a pack adds to SERVER_FEATURE_FLAGS (ComfyUI-Manager does at import) is kept,
    before a PromptServer exists too, and is what the server advertises once it does."""
    from comfy_core.api.plugin_server import PromptServer
    from comfy_core.registry.plugin_env import enable_facades
    from comfy_core.runtime.plugin_host import release_host
    from comfy_core.settings import Settings
    import comfy_api.feature_flags as feature_flags

    monkeypatch.delattr(PromptServer, "instance", raising=False)
    host = enable_facades(FolderPaths.build(tmp_path), Settings())
    try:
        flags = feature_flags.SERVER_FEATURE_FLAGS
        flags.setdefault("extension", {}).setdefault("manager", {})["supports_csrf_post"] = True
        assert feature_flags.SERVER_FEATURE_FLAGS is flags
        assert feature_flags.get_server_features()["extension"]["manager"]["supports_csrf_post"]
        server = PromptServer(None, Settings())
        assert feature_flags.SERVER_FEATURE_FLAGS is server.feature_flags
        server.feature_flags["probe"] = 1
        assert feature_flags.get_server_features()["probe"] == 1
    finally:
        release_host(host)


def test_set_progress_reports_to_the_running_job(tmp_path):
    from comfy_api.latest import ComfyAPI, ComfyAPISync

    seen = []
    job = runtime.JobContext(prompt_id="p", node_id="5",
                             on_progress=lambda v, m, p: seen.append((v, m, p)))
    with runtime.use_app(runtime.AppContext(folders=FolderPaths.build(tmp_path))):
        with pytest.raises(ValueError, match="running node"):
            asyncio.run(ComfyAPI().execution.set_progress(1, 2))
        with runtime.use_job(job):
            asyncio.run(ComfyAPI().execution.set_progress(1, 4))
            ComfyAPISync().execution.set_progress(2, 4, preview_image=torch.zeros(1, 8, 8, 3))
            with pytest.raises(ValueError, match="node '9'"):
                ComfyAPISync().execution.set_progress(3, 4, node_id="9")
    assert seen[0] == (1, 4, None)
    fmt, image, size = seen[1][2]
    assert seen[1][:2] == (2, 4) and fmt == "JPEG" and image.size == (8, 8) and size == 512


def test_the_v3_surface_a_controlnet_pack_uses():
    """Constructs ComfyUI-Advanced-ControlNet (a V3 pack) declares its nodes with."""
    from comfy_api.latest import ComfyExtension, io

    from comfy_core.registry import NodeRegistry
    from comfy_core.registry.v3.extension import register_entrypoint

    class Apply(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="ACN_Like", display_name="Apply", category="pack",
                             is_deprecated=True, inputs=[
                                 io.Conditioning.Input("positive"), io.ControlNet.Input("control_net"),
                                 io.Image.Input("image"), io.Vae.Input("vae", optional=True),
                                 io.Mask.Input("mask", optional=True), io.Model.Input("m", optional=True),
                                 io.Latent.Input("latent", optional=True),
                                 io.Float.Input("strength", default=1.0, max=10.0, min=0.0, step=0.01),
                                 io.Int.Input("count", default=1, min=0, max=9, step=1),
                                 io.Boolean.Input("flag", default=False),
                                 io.String.Input("text", multiline=True, force_input=True),
                                 io.Combo.Input("kind", options=["a", "b"], default="b", optional=True),
                                 io.Custom("TIMESTEP_KEYFRAME").Input("tk", optional=True)],
                             outputs=[io.Conditioning.Output("positive", is_output_list=False),
                                      io.Custom("TIMESTEP_KEYFRAME").Output("TK"),
                                      io.ControlNet.Output("CN"), io.Image.Output("I"),
                                      io.Mask.Output("M"), io.Int.Output("N"), io.Model.Output("MO")])

        @classmethod
        def execute(cls, positive, control_net, image, strength, count, flag, text, **rest):
            return io.NodeOutput(positive, None, control_net, image, None, count, None)

    class Ext(ComfyExtension):
        async def get_node_list(self):
            return [Apply]

    async def comfy_entrypoint():
        return Ext()

    registry = NodeRegistry()
    assert register_entrypoint(registry, comfy_entrypoint, "custom_nodes.acn") == ["ACN_Like"]
    info = registry.object_info()["ACN_Like"]
    assert info["deprecated"] is True and info["output"][1] == "TIMESTEP_KEYFRAME"
    assert info["input"]["optional"]["tk"] == ("TIMESTEP_KEYFRAME", {})
    assert info["input"]["required"]["text"] == ("STRING", {"forceInput": True, "multiline": True})
    out = Apply.execute(positive="p", control_net="c", image="i", strength=1.0, count=2,
                        flag=True, text="t")
    first, *_ = out.args
    assert first == "p" and out[5] == 2
