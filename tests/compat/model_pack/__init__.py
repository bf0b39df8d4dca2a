"""Fixture pack written for this repository's tests: model-side plugin code in the shapes
popular packs use (it imports ComfyUI's module names only).

- PackAttnScale: an IPAdapter-style attention replacement, written into
  `model_options["transformer_options"]["patches_replace"]["attn2"]` by hand (dicts copied
  first), computing cross-attention with the values scaled.
- PackFreeU: a FreeU-style `set_model_output_block_patch` scaling the backbone features and
  the skip connection of the output blocks with a given channel count.
- PackCheckpointLoader: `comfy.sd.load_checkpoint_guess_config`, the MODEL wrapped in a
  ModelPatcher subclass the way ComfyUI-GGUF does it (`Sub.clone(model)`, `__class__` swap),
  which applies weight patches itself (`patch_weight_to_device`) and counts them.
- PackEulerSampler: a SAMPLER made with `comfy.samplers.KSAMPLER` from a sampling function in
  k-diffusion's protocol, written here.
"""

import collections

import torch

import comfy.lora
import comfy.model_management
import comfy.model_patcher
import comfy.samplers
import comfy.sd
import comfy.utils
import folder_paths
from comfy.ldm.modules.attention import optimized_attention


class ValueScaledAttention:
    """attn2 replacement: attention over the same keys with the values times `scale`."""

    def __init__(self, scale):
        self.scale = scale
        self.calls = 0

    def __call__(self, q, k, v, extra_options):
        self.calls += 1
        return optimized_attention(q, k, v * self.scale, extra_options["n_heads"])

    def to(self, device_or_dtype):  # patch objects are moved with the model
        return self


def set_attn2_replace(model, patch, key):
    """What IPAdapter does: copy the nested dicts, then add the entry."""
    to = model.model_options["transformer_options"].copy()
    to["patches_replace"] = dict(to.get("patches_replace", {}))
    to["patches_replace"]["attn2"] = dict(to["patches_replace"].get("attn2", {}))
    to["patches_replace"]["attn2"][key] = patch
    model.model_options["transformer_options"] = to


class PackAttnScale:
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "apply"
    CATEGORY = "model_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "block": (["input", "middle", "output"],),
                             "number": ("INT", {"default": 1, "min": 0}),
                             "scale": ("FLOAT", {"default": 2.0})}}

    def apply(self, model, block, number, scale):
        work = model.clone()
        set_attn2_replace(work, ValueScaledAttention(scale), (block, number))
        return (work,)


class PackFreeU:
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "model_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "channels": ("INT", {"default": 32}),
                             "b": ("FLOAT", {"default": 1.3}), "s": ("FLOAT", {"default": 0.7})}}

    def patch(self, model, channels, b, s):
        def output_block_patch(h, hsp, transformer_options):
            if h.shape[1] == channels:
                return h * b, hsp * s
            return h, hsp

        work = model.clone()
        work.set_model_output_block_patch(output_block_patch)
        return (work,)


class CountingPatcher(comfy.model_patcher.ModelPatcher):
    """ComfyUI-GGUF's pattern: a subclass that keeps its class through clones and applies
    weight patches itself."""

    pack_tag = "counting"
    patched_keys = collections.Counter()

    def patch_weight_to_device(self, key, device_to=None, inplace_update=False):
        if key not in self.patches:
            return
        CountingPatcher.patched_keys[key] += 1
        weight = comfy.utils.get_attr(self.model, key)
        if key not in self.backup:
            self.backup[key] = collections.namedtuple("Backup", ["weight", "inplace_update"])(
                weight.to(device=self.offload_device, copy=True), True)
        patched = comfy.lora.calculate_weight(self.patches[key], weight.to(torch.float32, copy=True), key)
        comfy.utils.copy_to_param(self.model, key, patched.to(weight.dtype))

    def clone(self, *args, **kwargs):
        src_cls = self.__class__
        self.__class__ = CountingPatcher
        twin = super().clone(*args, **kwargs)
        twin.__class__ = CountingPatcher
        self.__class__ = src_cls
        twin.pack_tag = getattr(self, "pack_tag", "counting")
        return twin


class PackCheckpointLoader:
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load"
    CATEGORY = "model_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (folder_paths.get_filename_list("checkpoints"),)}}

    def load(self, ckpt_name):
        path = folder_paths.get_full_path_or_raise("checkpoints", ckpt_name)
        out = comfy.sd.load_checkpoint_guess_config(
            path, output_vae=True, output_clip=True, embedding_directory=folder_paths.get_folder_paths("embeddings"))
        model, clip, vae = out[:3]
        return (CountingPatcher.clone(model), clip, vae)


def sample_pack_euler(model, x, sigmas, extra_args=None, callback=None, disable=None, gain=1.0):
    """Euler steps in k-diffusion's protocol: model(x, sigma) is the denoised estimate."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        d = (x - denoised) / sigmas[i]
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        x = x + d * (sigmas[i + 1] - sigmas[i]) * gain
    return x


class PackEulerSampler:
    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    CATEGORY = "model_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"gain": ("FLOAT", {"default": 1.0})}}

    def get_sampler(self, gain):
        return (comfy.samplers.KSAMPLER(sample_pack_euler, extra_options={"gain": gain}),)


NODE_CLASS_MAPPINGS = {
    "PackAttnScale": PackAttnScale,
    "PackFreeU": PackFreeU,
    "PackCheckpointLoader": PackCheckpointLoader,
    "PackEulerSampler": PackEulerSampler,
}
