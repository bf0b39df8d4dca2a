"""Input shapes popular packs use: an optional section that accepts any input name (a
dict subclass answering `in` for every key) and a hidden input that is not one of
ComfyUI's hidden kinds (a plugin's own combo). Their values reach the node as in ComfyUI."""

from comfy_core.registry import NodeRegistry
from exec_nodes import NODES, Harness


class AnyInputs(dict):
    """Accepts every input name; each is of any type."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> tuple:
        return ("*",)


class Flexible:
    RETURN_TYPES = ("*",)
    FUNCTION = "run"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}, "optional": AnyInputs(),
                "hidden": {"saved": (["CHOOSE", "a", "b"],), "node": "UNIQUE_ID"}}

    def run(self, saved="default", node=None, **kwargs):
        return (f"{sorted(kwargs.items())} saved={saved} node={node}",)


def harness() -> Harness:
    registry = NodeRegistry()
    registry.register_mappings({**NODES, "Flexible": Flexible}, None, "custom_nodes.flex")
    return Harness(registry=registry)


def test_open_optional_section_and_plugin_hidden_values():
    h = harness()
    result = h.run({
        "1": {"class_type": "Number", "inputs": {"value": 3}},
        "2": {"class_type": "Flexible", "inputs": {"type": "INT", "value": ["1", 0]}},
        "3": {"class_type": "Show", "inputs": {"value": ["2", 0]}},
        "4": {"class_type": "Flexible", "inputs": {"saved": "b", "x": 1.5}},
        "5": {"class_type": "Show", "inputs": {"value": ["4", 0]}}})
    assert result.status_str == "success", result.error
    assert result.outputs["3"]["values"] == ["[('type', 'INT'), ('value', 3)] saved=default node=2"]
    assert result.outputs["5"]["values"] == ["[('x', 1.5)] saved=b node=4"]
