import logging

from comfy_core.registry import NodeRegistry


class Sample:
    CATEGORY = "test/sample"
    DESCRIPTION = "A sample node."
    RETURN_TYPES = ("IMAGE", "INT")
    RETURN_NAMES = ("image", "count")
    OUTPUT_TOOLTIPS = ("the image", "how many")
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {"mode": (["a", "b"],), "steps": ("INT", {"default": 20, "min": 1})},
            "optional": {"mask": ("MASK",)},
            "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"},
        }

    def run(self, mode, steps, mask=None, prompt=None, unique_id=None):
        return (None, steps)


class Plain:
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "run"
    OUTPUT_NODE = True
    DEPRECATED = True
    API_NODE = False

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def run(self):
        return (None,)


class Broken(Plain):
    @classmethod
    def INPUT_TYPES(cls):
        raise RuntimeError("no model folder")


def test_object_info_v1_shape_and_key_order():
    reg = NodeRegistry()
    reg.register_mappings({"Sample": Sample}, {"Sample": "Sample Node"}, "nodes")
    info = reg.object_info_for("Sample")["Sample"]
    assert list(info) == ["input", "input_order", "output", "output_is_list", "output_name", "name",
                          "display_name", "description", "python_module", "category", "output_node",
                          "output_tooltips"]
    assert info["input"]["required"]["mode"] == (["a", "b"],)
    assert info["input"]["hidden"] == {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"}
    assert info["input_order"] == {"required": ["mode", "steps"], "optional": ["mask"],
                                   "hidden": ["prompt", "unique_id"]}
    assert info["output"] == ["IMAGE", "INT"]
    assert info["output_is_list"] == [False, False]
    assert info["output_name"] == ["image", "count"]
    assert info["display_name"] == "Sample Node"
    assert info["description"] == "A sample node."
    assert info["python_module"] == "nodes"
    assert info["category"] == "test/sample"
    assert info["output_node"] is False
    assert info["output_tooltips"] == ["the image", "how many"]


def test_defaults_and_optional_flags():
    reg = NodeRegistry()
    reg.register("Plain", Plain)
    info = reg.object_info()["Plain"]
    assert info["display_name"] == "Plain"
    assert info["output_name"] == ["LATENT"]
    assert info["category"] == "sd" and info["description"] == ""
    assert info["output_node"] is True
    assert info["deprecated"] is True and "experimental" not in info
    assert info["api_node"] is False
    assert reg.object_info_for("Missing") == {}


def test_broken_input_types_is_skipped_and_logged(caplog):
    reg = NodeRegistry()
    reg.register("Plain", Plain)
    reg.register("Broken", Broken)
    with caplog.at_level(logging.ERROR):
        info = reg.object_info()
    assert list(info) == ["Plain"]
    assert "Broken" in caplog.text


def test_core_names_cannot_be_overridden_by_custom_nodes():
    reg = NodeRegistry()
    reg.register("Sample", Sample)
    assert reg.register_mappings({"Sample": Plain, "New": Plain}, None, "custom_nodes.x") == ["New"]
    assert reg.get("Sample").cls is Sample
    assert reg.object_info()["New"]["python_module"] == "custom_nodes.x"
    # a later custom node may replace an earlier custom node
    assert reg.register_mappings({"New": Sample}, None, "custom_nodes.y") == ["New"]
    assert reg.get("New").cls is Sample


def test_invalid_class_is_skipped_not_fatal():
    reg = NodeRegistry()
    added = reg.register_mappings({"NoFunc": type("NoFunc", (), {"INPUT_TYPES": classmethod(lambda c: {})}),
                                   "Plain": Plain}, None, "custom_nodes.z")
    assert added == ["Plain"]
    assert reg.names() == ["Plain"]
