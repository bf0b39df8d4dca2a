"""A plugin mixing a classic node and a V3 node in NODE_CLASS_MAPPINGS."""

from comfy_api.latest import io


class MixedNumber:
    CATEGORY = "pack"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 1000})}}

    def run(self, value):
        return (value,)


class MixedAdd(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="MixedAddV3", display_name="Mixed Add", category="pack",
                         inputs=[io.Int.Input("a"), io.Int.Input("b", default=0)],
                         outputs=[io.Int.Output()])

    @classmethod
    def validate_inputs(cls, b):
        return True if b is None or b >= 0 else "b must not be negative"

    @classmethod
    def execute(cls, a, b):
        return io.NodeOutput(a + b)


NODE_CLASS_MAPPINGS = {"MixedNumber": MixedNumber, "MixedAdd": MixedAdd}
NODE_DISPLAY_NAME_MAPPINGS = {"MixedNumber": "Mixed Number"}
