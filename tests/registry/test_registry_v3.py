"""V3 node classes in the registry: the classic view, /object_info in the newer-schema
shape (checked against ComfyUI 0.8.0's own entries), node lists and entry points."""

import asyncio
import logging

import pytest

from comfy_core.registry import NodeRegistry, SchemaError
from comfy_core.registry.v3 import ComfyExtension, io
from comfy_core.registry.v3.extension import EntrypointError, extension_node_list, register_entrypoint
from tests.fixtures.reference import as_json, reference_object_info


def node(schema_factory, execute=None):
    """A V3 class from a define_schema body (and an optional execute)."""
    body = {"define_schema": classmethod(lambda cls: schema_factory())}
    body["execute"] = classmethod(execute or (lambda cls, **kw: io.NodeOutput()))
    return type("N", (io.ComfyNode,), body)


class BatchImages(io.ComfyNode):
    """Declared like ComfyUI's BatchImagesNode (interface only)."""

    @classmethod
    def define_schema(cls):
        template = io.Autogrow.TemplatePrefix(io.Image.Input("image"), prefix="image", min=2, max=50)
        return io.Schema(node_id="BatchImagesNode", display_name="Batch Images", category="image",
                         inputs=[io.Autogrow.Input("images", template=template)],
                         outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, images):
        return io.NodeOutput(list(images.values()))


class Switch(io.ComfyNode):
    """Declared like ComfyUI's ComfySwitchNode."""

    @classmethod
    def define_schema(cls):
        t = io.MatchType.Template("switch")
        return io.Schema(node_id="ComfySwitchNode", display_name="Switch", category="logic",
                         is_experimental=True, inputs=[
                             io.Boolean.Input("switch"),
                             io.MatchType.Input("on_false", template=t, lazy=True),
                             io.MatchType.Input("on_true", template=t, lazy=True)],
                         outputs=[io.MatchType.Output(template=t, display_name="output")])

    @classmethod
    def execute(cls, switch, on_false=None, on_true=None):
        return io.NodeOutput(on_true if switch else on_false)


def _size(name: str, default: int = 512) -> io.Int.Input:
    return io.Int.Input(name, default=default, min=0, max=16384, step=1)


def _crop() -> io.Combo.Input:
    return io.Combo.Input("crop", options=["disabled", "center"], default="center")


class ResizeImageMask(io.ComfyNode):
    """Declared like ComfyUI's ResizeImageMaskNode (MatchType + DynamicCombo + MultiType)."""

    @classmethod
    def define_schema(cls):
        t = io.MatchType.Template("input_type", [io.Image, io.Mask])
        opt = io.DynamicCombo.Option
        options = [
            opt("scale by multiplier", [io.Float.Input("multiplier", default=1.0, min=0.01,
                                                       max=8.0, step=0.01)]),
            opt("scale dimensions", [_size("width"), _size("height"), _crop()]),
            opt("scale longer dimension", [_size("longer_size")]),
            opt("scale shorter dimension", [_size("shorter_size")]),
            opt("scale width", [_size("width")]),
            opt("scale height", [_size("height")]),
            opt("scale total pixels", [io.Float.Input("megapixels", default=1.0, min=0.01,
                                                      max=16.0, step=0.01)]),
            opt("match size", [io.MultiType.Input("match", [io.Image, io.Mask]), _crop()]),
        ]
        return io.Schema(
            node_id="ResizeImageMaskNode", display_name="Resize Image/Mask", category="transform",
            inputs=[io.MatchType.Input("input", template=t),
                    io.DynamicCombo.Input("resize_type", options=options),
                    io.Combo.Input("scale_method", options=["nearest-exact", "bilinear", "area",
                                                            "bicubic", "lanczos"], default="area")],
            outputs=[io.MatchType.Output(template=t, display_name="resized")])

    @classmethod
    def execute(cls, input, resize_type, scale_method):
        return io.NodeOutput(input)


@pytest.mark.parametrize("cls,module", [
    (BatchImages, "comfy_extras.nodes_post_processing"),
    (Switch, "comfy_extras.nodes_logic"),
    (ResizeImageMask, "comfy_extras.nodes_post_processing"),
])
def test_object_info_equals_comfyuis_entry_for_the_same_declaration(cls, module):
    reg = NodeRegistry()
    name = cls.GET_SCHEMA().node_id
    reg.register_mappings({name: cls}, None, module)
    ours = as_json(reg.object_info_for(name)[name])
    theirs = reference_object_info()[name]
    assert ours == theirs
    assert list(ours) == list(theirs)  # key order too


def test_classic_view_of_a_v3_class():
    assert BatchImages.RETURN_TYPES == ["IMAGE"] and BatchImages.RETURN_NAMES == ["IMAGE"]
    assert BatchImages.FUNCTION == "EXECUTE_NORMALIZED" and BatchImages.CATEGORY == "image"
    assert Switch.EXPERIMENTAL is True and Switch.OUTPUT_NODE is False
    assert Switch.RETURN_NAMES == ["output"] and Switch.OUTPUT_TOOLTIPS == [None]
    assert Switch.INPUT_TYPES()["required"]["switch"] == ("BOOLEAN", {})
    assert BatchImages().execute(images={"image0": 1, "image1": 2})[0] == [1, 2]

    class AsyncNode(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema("A", is_output_node=True, is_api_node=True)

        @classmethod
        async def execute(cls):
            return None

    assert AsyncNode.FUNCTION == "EXECUTE_NORMALIZED_ASYNC"
    assert AsyncNode.INPUT_TYPES() == {"required": {}, "hidden": {
        "auth_token_comfy_org": ("AUTH_TOKEN_COMFY_ORG",), "api_key_comfy_org": ("API_KEY_COMFY_ORG",),
        "prompt": ("PROMPT",), "extra_pnginfo": ("EXTRA_PNGINFO",)}}
    out = asyncio.run(AsyncNode.EXECUTE_NORMALIZED_ASYNC())
    assert isinstance(out, io.NodeOutput) and out.result is None


def test_widget_options_combo_encoding_and_hidden_by_member_name():
    def schema():
        return io.Schema("W", display_name=None, inputs=[
            io.Int.Input("seed", default=0, min=0, max=10, control_after_generate=True,
                         display_mode=io.NumberDisplay.number, tooltip="t"),
            io.Float.Input("f", default=0.5, round=False, display_mode=io.NumberDisplay.slider),
            io.String.Input("s", multiline=True, dynamic_prompts=True, optional=True),
            io.Boolean.Input("b", default=True, label_on="yes", label_off="no"),
            io.Combo.Input("c", options=io.FolderType, default=io.FolderType.output,
                           upload=io.UploadType.image, image_folder=io.FolderType.input,
                           remote=io.RemoteOptions("/r", True)),
            io.MultiCombo.Input("m", options=["a", "b"], default=["a"]),
            io.Custom("THING").Input("thing", raw_link=True, extra_dict={"x": 1}),
            io.MultiType.Input(io.Int.Input("mt", default=3), types=[io.Float, io.Int]),
        ], outputs=[io.Custom("THING").Output(tooltip="out")], hidden=[io.Hidden.unique_id])

    info = as_json(node(schema).GET_NODE_INFO_V1())
    req, opt = info["input"]["required"], info["input"]["optional"]
    assert req["seed"] == ["INT", {"tooltip": "t", "default": 0, "min": 0, "max": 10,
                                   "control_after_generate": True, "display": "number"}]
    assert req["f"] == ["FLOAT", {"default": 0.5, "round": False, "display": "slider"}]
    assert opt == {"s": ["STRING", {"multiline": True, "dynamicPrompts": True}]}
    assert req["b"] == ["BOOLEAN", {"default": True, "label_on": "yes", "label_off": "no"}]
    assert req["c"] == ["COMBO", {"default": "output", "multiselect": False,
                                  "options": ["input", "output", "temp"], "image_upload": True,
                                  "image_folder": "input", "remote": {
                                      "route": "/r", "refresh_button": True,
                                      "control_after_refresh": "first"}}]
    assert req["m"][1]["multiselect"] is True and req["m"][1]["default"] == ["a"]
    assert req["thing"] == ["THING", {"rawLink": True, "x": 1}]
    assert req["mt"] == ["INT,FLOAT", {"default": 3, "widgetType": "INT"}]
    assert info["input"]["hidden"] == {"unique_id": ["UNIQUE_ID"]}
    assert info["input_order"] == {"required": ["seed", "f", "b", "c", "m", "thing", "mt"],
                                   "optional": ["s"], "hidden": ["unique_id"]}
    assert info["display_name"] is None and info["category"] == "sd"
    assert info["output"] == ["THING"] and info["output_tooltips"] == ["out"]
    assert info["output_matchtypes"] is None


def test_mapping_key_and_node_id_may_differ_and_display_names_come_from_the_schema():
    reg = NodeRegistry()
    reg.register_mappings({"Alias": Switch}, {"Alias": "Renamed"}, "custom_nodes.pack")
    info = reg.object_info()["Alias"]
    assert info["name"] == "ComfySwitchNode" and info["display_name"] == "Switch"
    assert info["python_module"] == "custom_nodes.pack"
    assert Switch.RELATIVE_PYTHON_MODULE == "custom_nodes.pack"
    del Switch.RELATIVE_PYTHON_MODULE


def test_broken_v3_classes_are_skipped_with_a_message(caplog):
    dup = node(lambda: io.Schema("D", inputs=[io.Int.Input("x"), io.Float.Input("x")]))
    no_execute = type("NoExec", (io.ComfyNode,), {
        "define_schema": classmethod(lambda cls: io.Schema("E"))})
    reg = NodeRegistry()
    with caplog.at_level(logging.WARNING):
        added = reg.register_mappings({"D": dup, "E": no_execute, "S": Switch}, None, "x")
    assert added == ["S"]
    assert "Input ids must be unique, but ['x'] are not." in caplog.text
    assert "does not define execute()" in caplog.text
    with pytest.raises(TypeError):
        no_execute()


def test_node_lists_and_entrypoints():
    class Ext(ComfyExtension):
        async def get_node_list(self):
            return [Switch, BatchImages, "not a class"]

    async def entry():
        return Ext()

    reg = NodeRegistry()
    assert register_entrypoint(reg, entry, "custom_nodes.v3pack") == ["ComfySwitchNode",
                                                                      "BatchImagesNode"]
    assert reg.get("BatchImagesNode").is_v3
    assert asyncio.run(extension_node_list(lambda: Ext())) == [Switch, BatchImages, "not a class"]
    with pytest.raises(EntrypointError, match="must return a ComfyExtension"):
        asyncio.run(extension_node_list(lambda: [Switch]))

    class BadList(ComfyExtension):
        async def get_node_list(self):
            return (Switch,)

    with pytest.raises(EntrypointError, match="must return a list"):
        asyncio.run(extension_node_list(BadList))
    with pytest.raises(SchemaError):
        reg.register_v3_nodes({"x": Switch}, "p")
