"""V3 (io.ComfyNode) test nodes, registered next to the classic ones of exec_nodes."""

from __future__ import annotations

import asyncio

from comfy_core.execution import ExecutionBlocker
from comfy_core.registry import NodeRegistry
from comfy_core.registry.v3 import io, ui
from exec_nodes import NODES


class V3Number(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("V3Number", category="test",
                         inputs=[io.Int.Input("value", default=0, min=-100, max=10**6)],
                         outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value):
        return io.NodeOutput(value)


class V3Sum(io.ComfyNode):
    """Autogrow: sums n0, n1, ... (those present)."""

    @classmethod
    def define_schema(cls):
        template = io.Autogrow.TemplatePrefix(io.Int.Input("n", min=-100), "n", min=1, max=5)
        return io.Schema("V3Sum", inputs=[io.Autogrow.Input("numbers", template=template)],
                         outputs=[io.Int.Output("total")])

    @classmethod
    def execute(cls, numbers):
        assert isinstance(numbers, dict)
        return io.NodeOutput(sum(numbers.values()))


class V3Pick(io.ComfyNode):
    """DynamicCombo: "const" brings `value`, "add" brings `a` and `b`."""

    @classmethod
    def define_schema(cls):
        options = [io.DynamicCombo.Option("const", [io.Int.Input("value", default=1, max=50)]),
                   io.DynamicCombo.Option("add", [io.Int.Input("a"), io.Int.Input("b")])]
        return io.Schema("V3Pick", inputs=[io.DynamicCombo.Input("mode", options=options)],
                         outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, mode):
        if mode["mode"] == "const":
            return io.NodeOutput(mode["value"])
        return io.NodeOutput(mode["a"] + mode["b"])


class V3Switch(io.ComfyNode):
    """MatchType with lazy branches: only the chosen branch runs."""

    @classmethod
    def define_schema(cls):
        t = io.MatchType.Template("switch")
        return io.Schema("V3Switch", inputs=[
            io.Boolean.Input("switch"),
            io.MatchType.Input("on_false", template=t, lazy=True),
            io.MatchType.Input("on_true", template=t, lazy=True)],
            outputs=[io.MatchType.Output(template=t, display_name="output")])

    @classmethod
    def check_lazy_status(cls, switch, on_false=None, on_true=None):
        wanted, value = ("on_true", on_true) if switch else ("on_false", on_false)
        return [wanted] if value is None else []

    @classmethod
    def execute(cls, switch, on_false=None, on_true=None):
        return io.NodeOutput(on_true if switch else on_false)


class V3FirstOf(io.ComfyNode):
    """Lazy Autogrow entries: asks for the first entry only (named by its prompt key)."""

    @classmethod
    def define_schema(cls):
        template = io.Autogrow.TemplateNames(io.Int.Input("v", lazy=True), ["first", "second"])
        return io.Schema("V3FirstOf", inputs=[io.Autogrow.Input("values", template=template)],
                         outputs=[io.Int.Output()])

    @classmethod
    def check_lazy_status(cls, values):
        value, key = values["first"]
        return [key] if value is None else []

    @classmethod
    def execute(cls, values):
        return io.NodeOutput(values["first"])


class V3Double(io.ComfyNode):
    """Expands into a classic Add of the input with itself."""

    @classmethod
    def define_schema(cls):
        return io.Schema("V3Double", inputs=[io.Int.Input("x")], outputs=[io.Int.Output()],
                         enable_expand=True)

    @classmethod
    def execute(cls, x):
        uid = cls.hidden.unique_id
        graph = {f"{uid}.add": {"class_type": "Add", "inputs": {"a": x, "b": x}}}
        return io.NodeOutput([f"{uid}.add", 0], expand=graph)


class V3ExpandWithoutFlag(V3Double):
    @classmethod
    def define_schema(cls):
        return io.Schema("V3ExpandWithoutFlag", inputs=[io.Int.Input("x")],
                         outputs=[io.Int.Output()])


class V3Gate(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("V3Gate", inputs=[io.Int.Input("value"), io.String.Input("message")],
                         outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value, message):
        if message == "silent":
            return ExecutionBlocker(None)
        return io.NodeOutput(block_execution=message) if message else io.NodeOutput(value)


class V3AsyncAdd(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("V3AsyncAdd", inputs=[io.Int.Input("a"), io.Int.Input("b")],
                         outputs=[io.Int.Output()])

    @classmethod
    async def execute(cls, a, b):
        await asyncio.sleep(0)  # really suspends once: the executor must await async nodes
        return io.NodeOutput(a + b)


class V3Show(io.ComfyNode):
    """Output node: shows the value and what its hidden inputs held."""

    @classmethod
    def define_schema(cls):
        return io.Schema("V3Show", inputs=[io.Int.Input("value")], is_output_node=True,
                         hidden=[io.Hidden.unique_id])

    @classmethod
    def execute(cls, value):
        cls.touched = True  # must not leak into the registered class
        h = cls.hidden
        text = f"{value} id={h.unique_id} prompt={h.prompt is not None} png={h.extra_pnginfo}"
        return io.NodeOutput(ui=ui.PreviewText(text))


class V3Checked(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("V3Checked", inputs=[io.Int.Input("value", min=0, max=5)],
                         outputs=[io.Int.Output()])

    @classmethod
    def validate_inputs(cls, value):
        return True if value != 4 else f"4 is unlucky (node {cls.hidden.unique_id})"

    @classmethod
    def execute(cls, value):
        return io.NodeOutput(value)


class V3Volatile(V3Number):
    @classmethod
    def define_schema(cls):
        schema = super().define_schema()
        schema.node_id = "V3Volatile"
        return schema

    @classmethod
    def fingerprint_inputs(cls, value):
        return float("nan")


class V3Legacy(io.ComfyNode):
    """Returns a classic tuple and a classic dict; both are accepted."""

    @classmethod
    def define_schema(cls):
        return io.Schema("V3Legacy", inputs=[io.Int.Input("value")], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value):
        return (value * 10,) if value % 2 else {"result": (value * 100,)}


V3_NODES = [V3Number, V3Sum, V3Pick, V3Switch, V3FirstOf, V3Double, V3ExpandWithoutFlag,
            V3Gate, V3AsyncAdd, V3Show, V3Checked, V3Volatile, V3Legacy]


def make_mixed_registry() -> NodeRegistry:
    """Classic test nodes via mappings, V3 ones via a node list (as an extension gives)."""
    registry = NodeRegistry()
    registry.register_mappings(NODES, None, "nodes")
    registry.register_v3_nodes(V3_NODES, "nodes")
    return registry
