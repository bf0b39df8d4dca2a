"""Constant-value nodes (ComfyUI's comfy_extras primitives): output their one widget.
Written with the V3 schema, as ComfyUI 0.8.0 defines them."""

from __future__ import annotations

import sys

from comfy_core.registry.v3 import io
from nodes.common import EXTRAS_PRIMITIVE


class _Primitive(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = EXTRAS_PRIMITIVE
    NODE_ID = ""
    TITLE = ""
    KIND: type = io.String

    @classmethod
    def widget(cls) -> io.Input:
        return cls.KIND.Input("value")

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=cls.NODE_ID, display_name=cls.TITLE, category="utils/primitive",
                         inputs=[cls.widget()], outputs=[cls.KIND.Output()])

    @classmethod
    def execute(cls, value):
        return io.NodeOutput(value)


class PrimitiveString(_Primitive):
    NODE_ID, TITLE = "PrimitiveString", "String"

    @classmethod
    def widget(cls):
        return io.String.Input("value")


class PrimitiveStringMultiline(_Primitive):
    NODE_ID, TITLE = "PrimitiveStringMultiline", "String (Multiline)"

    @classmethod
    def widget(cls):
        return io.String.Input("value", multiline=True)


class PrimitiveInt(_Primitive):
    NODE_ID, TITLE, KIND = "PrimitiveInt", "Int", io.Int

    @classmethod
    def widget(cls):
        return io.Int.Input("value", min=-sys.maxsize, max=sys.maxsize, control_after_generate=True)


class PrimitiveFloat(_Primitive):
    NODE_ID, TITLE, KIND = "PrimitiveFloat", "Float", io.Float

    @classmethod
    def widget(cls):
        return io.Float.Input("value", min=-sys.maxsize, max=sys.maxsize, step=0.1)


class PrimitiveBoolean(_Primitive):
    NODE_ID, TITLE, KIND = "PrimitiveBoolean", "Boolean", io.Boolean


NODE_CLASS_MAPPINGS = {
    "PrimitiveString": PrimitiveString,
    "PrimitiveStringMultiline": PrimitiveStringMultiline,
    "PrimitiveInt": PrimitiveInt,
    "PrimitiveFloat": PrimitiveFloat,
    "PrimitiveBoolean": PrimitiveBoolean,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}  # V3 nodes: the titles are in their schema
