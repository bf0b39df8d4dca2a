try:
    import probe_absent_runtime_lib
except ImportError:
    print("optional library missing")  # the usual pattern: the real cause is lost here


class UsesMissingLib:
    CATEGORY = "probe"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    def run(self, value):
        return (probe_absent_runtime_lib.double(value),)  # NameError at run time


NODE_CLASS_MAPPINGS = {"UsesMissingLib": UsesMissingLib}
