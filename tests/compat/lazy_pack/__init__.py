"""Fixture pack written for this repository's tests: it imports only the packages `comfy`,
`comfy.utils` and `comfy_extras` and reaches every other ComfyUI module as an attribute, the
way packs rely on ComfyUI having imported everything before them.

- LazyComposite: pastes an image into another with `comfy_extras.nodes_mask.composite` on
  `comfy.model_management.intermediate_device()`.
- `reached()`: objects of model-side modules the pack never imported.
"""

import comfy
import comfy.utils
import comfy_extras


def reached() -> dict:
    return {
        "load_checkpoint_guess_config": comfy.sd.load_checkpoint_guess_config,
        "get_torch_device": comfy.model_management.get_torch_device,
        "UNetModel": comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel,
        "sample_euler": comfy.k_diffusion.sampling.sample_euler,
        "composite": comfy_extras.nodes_mask.composite,
    }


class LazyComposite:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": ("IMAGE",), "source": ("IMAGE",),
                             "x": ("INT", {"default": 0, "min": 0}),
                             "y": ("INT", {"default": 0, "min": 0})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "paste"
    CATEGORY = "tests/lazy"

    def paste(self, destination, source, x, y):
        device = comfy.model_management.intermediate_device()
        out = destination.clone().movedim(-1, 1).to(device)
        out = comfy_extras.nodes_mask.composite(out, source.movedim(-1, 1).to(device), x, y,
                                                multiplier=1)
        return (out.movedim(1, -1),)


NODE_CLASS_MAPPINGS = {"LazyComposite": LazyComposite}
