"""A fixture custom-node pack that replaces ComfyUI's per-step function the way video packs
do (AnimateDiff-Evolved): an outer-sample wrapper assigns `comfy.samplers.sampling_function`
for the length of one sampling run and puts the original back afterwards.

- StepScaleSampling: the replacement calls the original and scales its result.
- StepPerBatchSampling: the replacement runs each latent of the batch on its own, slicing
  every batch-sized model cond of every entry (`model_conds[...]._copy_with`), then joins
  the results; it records the conds it saw.
"""

import torch

import comfy.conds
import comfy.patcher_extension
import comfy.samplers


class StepLog:
    """What the replacement saw, for the tests to read (one per patched MODEL)."""

    def __init__(self):
        self.calls = 0
        self.models = []
        self.cond_kinds = set()
        self.cond_scales = []


def _patched_run(original_replacement, log):
    """An outer-sample wrapper that installs `original_replacement(orig)` for one run."""

    def outer_sample(executor, *args, **kwargs):
        original = comfy.samplers.sampling_function
        comfy.samplers.sampling_function = original_replacement(original, log)
        try:
            return executor(*args, **kwargs)
        finally:
            comfy.samplers.sampling_function = original

    return outer_sample


def _scaled(factor):
    def make(original, log):
        def sampling_function(model, x, timestep, uncond, cond, cond_scale, model_options={}, seed=None):
            log.calls += 1
            log.models.append(model)
            log.cond_scales.append(cond_scale)
            return original(model, x, timestep, uncond, cond, cond_scale, model_options, seed) * factor

        return sampling_function

    return make


def _slice_entries(entries, index, batch, log):
    """Copies of cond entries with every model cond of `batch` rows cut to row `index`."""
    if entries is None:
        return None
    out = []
    for entry in entries:
        entry = entry.copy()
        model_conds = entry["model_conds"].copy()
        for key, value in model_conds.items():
            log.cond_kinds.add((key, type(value).__name__))
            if isinstance(value, comfy.conds.CONDRegular) and torch.is_tensor(value.cond) \
                    and value.cond.shape[0] == batch:
                model_conds[key] = value._copy_with(value.cond[index:index + 1])
        entry["model_conds"] = model_conds
        out.append(entry)
    return out


def _per_batch(original, log):
    def sampling_function(model, x, timestep, uncond, cond, cond_scale, model_options={}, seed=None):
        log.calls += 1
        batch, outs = x.shape[0], []
        for i in range(batch):
            c, u = _slice_entries(cond, i, batch, log), _slice_entries(uncond, i, batch, log)
            xi, ti = x[i:i + 1], timestep[i:i + 1]
            cond_pred, uncond_pred = comfy.samplers.calc_cond_batch(model, [c, u], xi, ti, model_options)
            outs.append(comfy.samplers.cfg_function(model, cond_pred, uncond_pred, cond_scale, xi, ti,
                                                    model_options, c, u))
        return torch.cat(outs)

    return sampling_function


def _patch(model, replacement):
    patched = model.clone()
    log = StepLog()
    patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "step_pack",
                                 _patched_run(replacement, log))
    patched.step_log = log
    return patched


class StepScaleSampling:
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "step_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "factor": ("FLOAT", {"default": 0.5})}}

    def patch(self, model, factor):
        return (_patch(model, _scaled(factor)),)


class StepPerBatchSampling:
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "step_pack"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    def patch(self, model):
        return (_patch(model, _per_batch),)


NODE_CLASS_MAPPINGS = {"StepScaleSampling": StepScaleSampling, "StepPerBatchSampling": StepPerBatchSampling}
