"""Loads after probe_pack: replaces one of its nodes, tries to replace a built-in node and
renames a built-in node's title (ComfyUI's registration rules)."""


class OverrideAdd:
    CATEGORY = "probe"
    RETURN_TYPES = ("INT",)
    FUNCTION = "add"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0}), "b": ("INT", {"default": 0})}}

    def add(self, a, b):
        return (a + b + 1000,)


NODE_CLASS_MAPPINGS = {"ProbeAdd": OverrideAdd, "KSampler": OverrideAdd}
NODE_DISPLAY_NAME_MAPPINGS = {"KSampler": "KSampler (renamed by a pack)"}
