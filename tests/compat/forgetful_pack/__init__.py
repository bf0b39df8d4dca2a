"""Fixture pack written for this repository's tests: like a popular upscaling pack, it
deletes from sys.modules every module first imported during its own import (to hide its
private helper modules), here after its import reached `comfy.samplers` first.

- ForgetfulSamplers: the sampler names of the `comfy.samplers` module seen at import.
"""

import sys

original_modules = set(sys.modules)

import comfy  # noqa: E402

SAMPLERS_MODULE = comfy.samplers  # first use: imported now, during this pack's import


class ForgetfulSamplers:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler": (SAMPLERS_MODULE.KSampler.SAMPLERS,)}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "name"
    CATEGORY = "tests/lazy"

    def name(self, sampler):
        return (sampler,)


NODE_CLASS_MAPPINGS = {"ForgetfulSamplers": ForgetfulSamplers}

for _name in [name for name in sys.modules if name not in original_modules]:
    del sys.modules[_name]
