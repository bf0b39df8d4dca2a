"""The V3 pack's nodes (integers flow through them, so the test can check every value)."""

import torch
from comfy_api.latest import io, ui


class PackSum(io.ComfyNode):
    """Autogrow: the sum of every connected or given entry."""

    @classmethod
    def define_schema(cls):
        template = io.Autogrow.TemplatePrefix(io.Int.Input("n"), prefix="n", min=1, max=8)
        return io.Schema(node_id="PackSum", display_name="Pack Sum", category="pack",
                         inputs=[io.Autogrow.Input("numbers", template=template)],
                         outputs=[io.Int.Output("total", display_name="total")])

    @classmethod
    def execute(cls, numbers):
        return io.NodeOutput(sum(numbers.values()))


class PackScale(io.ComfyNode):
    """DynamicCombo: multiply by a factor, or add an offset."""

    @classmethod
    def define_schema(cls):
        options = [io.DynamicCombo.Option("times", [io.Int.Input("factor", default=2, min=0, max=10)]),
                   io.DynamicCombo.Option("plus", [io.Int.Input("offset", default=1)])]
        return io.Schema(node_id="PackScale", category="pack",
                         inputs=[io.Int.Input("value"), io.DynamicCombo.Input("op", options=options)],
                         outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value, op):
        return io.NodeOutput(value * op["factor"] if op["op"] == "times" else value + op["offset"])


class PackSwitch(io.ComfyNode):
    """Lazy MatchType switch: the branch not taken never runs."""

    @classmethod
    def define_schema(cls):
        t = io.MatchType.Template("switch")
        return io.Schema(node_id="PackSwitch", category="pack", inputs=[
            io.Boolean.Input("switch", default=True),
            io.MatchType.Input("on_false", template=t, lazy=True),
            io.MatchType.Input("on_true", template=t, lazy=True)],
            outputs=[io.MatchType.Output(template=t, display_name="output")])

    @classmethod
    def check_lazy_status(cls, switch, on_false=None, on_true=None):
        name, value = ("on_true", on_true) if switch else ("on_false", on_false)
        return [name] if value is None else []

    @classmethod
    def execute(cls, switch, on_false=None, on_true=None):
        return io.NodeOutput(on_true if switch else on_false)


class PackFail(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PackFail", category="pack", inputs=[io.Int.Input("value")],
                         outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value):
        raise RuntimeError("the branch not taken ran")


class PackDouble(io.ComfyNode):
    """Expands into a PackSum of its input with itself (async execute)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PackDouble", category="pack", inputs=[io.Int.Input("x")],
                         outputs=[io.Int.Output()], enable_expand=True)

    @classmethod
    async def execute(cls, x):
        node = f"{cls.hidden.unique_id}.sum"
        graph = {node: {"class_type": "PackSum", "inputs": {"numbers.n0": x, "numbers.n1": x}}}
        return io.NodeOutput([node, 0], expand=graph)


class PackShow(io.ComfyNode):
    """Output node: the value as text, and a preview image whose grey level is the value."""

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PackShow", category="pack", inputs=[io.Int.Input("value")],
                         hidden=[io.Hidden.unique_id], is_output_node=True)

    @classmethod
    def execute(cls, value):
        grey = torch.full((1, 4, 6, 3), min(value, 255) / 255.0)
        preview = ui.PreviewImage(grey, cls=cls)
        return io.NodeOutput(ui={**preview.as_dict(),
                                 "text": [f"{value} from node {cls.hidden.unique_id}"]})


NODES = [PackSum, PackScale, PackSwitch, PackFail, PackDouble, PackShow]
