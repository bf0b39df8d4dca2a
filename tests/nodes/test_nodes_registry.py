"""The built-in nodes register cleanly and show ComfyUI's python_module values."""

from __future__ import annotations

import nodes
from comfy_core.registry.registry import NodeRegistry


def test_every_builtin_registers_and_has_object_info(app):
    registry = NodeRegistry()
    groups = nodes.mappings_by_python_module()
    for module, (classes, titles) in groups.items():
        assert registry.register_mappings(classes, titles, module) == list(classes)
    info = registry.object_info()
    assert set(info) == set(nodes.NODE_CLASS_MAPPINGS)
    assert info["SaveImage"]["python_module"] == "nodes"
    assert info["PrimitiveInt"]["python_module"] == "comfy_extras.nodes_primitive"
    assert info["GrowMask"]["python_module"] == "comfy_extras.nodes_mask"
    assert info["LoadImageMask"]["python_module"] == "nodes"
    assert info["SaveImage"]["display_name"] == "Save Image"
    assert info["ConditioningAverage"]["display_name"] == "ConditioningAverage"
