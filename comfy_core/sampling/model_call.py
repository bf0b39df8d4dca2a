"""One denoiser evaluation with ComfyUI's hooks at ComfyUI's places (COMPAT-PLUGINS 3.3,
3.10): `sampling_function` (cfg 1 shortcut, calc-cond-batch / pre-CFG / CFG / post-CFG
functions) over `calc_cond_batch` (batched model calls through `model_function_wrapper`
or `apply_model`, ControlNet residuals, transformer options per call).

`model` here is the base model (`patcher.model`): anything with `apply_model(x, σ, **c)`
and `model_sampling`; this package never imports model classes. Conds are lists of
`conditioning.ResolvedCond` (None for a side that is skipped).

Late binding (COMPAT-PLUGINS 0.3): packs replace `comfy.samplers.sampling_function`,
`calc_cond_batch` and `cfg_function` by assigning the module attribute and expect the
core to call the replacement, as ComfyUI's own code looks these names up at each call.
The names are declared in LATE_BOUND; the facade records an assignment on the plugin host
and each call site here asks `replaced_step_function` first, so without a pack the path
is unchanged (one empty-dict check per step).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Sequence

import torch

from comfy_core.memory.oom import is_oom
from comfy_core.patching import model_options as mo
from comfy_core.patching.extension import WrapperExecutor, WrappersMP, copy_nested_dicts, get_all_wrappers
from comfy_core.runtime.plugin_host import replaced_step_function
from comfy_core.sampling import cond_batch
from comfy_core.sampling.conditioning import ResolvedCond

log = logging.getLogger(__name__)

Conds = Sequence["Sequence[ResolvedCond] | None"]
LATE_BOUND = ("sampling_function", "calc_cond_batch", "cfg_function")


def model_sampling_of(model: Any) -> Any:
    """A MODEL's model sampling (its object patch when one is set)."""
    return model.get_model_object("model_sampling")


def _call_options(model_options: dict, batch: list[cond_batch.Job], sigma: torch.Tensor) -> dict:
    """The transformer options of one model call: the model's, plus which sides and entries
    the chunks are, σ, and per-entry patches."""
    options = copy_nested_dicts(model_options.get(mo.TRANSFORMER_OPTIONS, {}))
    if batch[0].patches:
        patches = options.setdefault(mo.PATCHES, {})
        for name, plist in batch[0].patches.items():
            patches[name] = list(patches.get(name, [])) + list(plist)
    options["cond_or_uncond"] = [j.side for j in batch]
    options["uuids"] = [j.uuid for j in batch]
    options["sigmas"] = sigma
    return options


def _run_batch(model: Any, batch: list[cond_batch.Job], timestep: torch.Tensor, model_options: dict) -> torch.Tensor:
    """One batched model call -> denoised [N·B, C, h, w]."""
    x_in = torch.cat([j.x for j in batch])
    t_in = torch.cat([timestep] * len(batch))
    c = cond_batch.model_inputs(batch)
    options = _call_options(model_options, batch, timestep)
    c["transformer_options"] = options
    if batch[0].control is not None:
        c["control"] = batch[0].control.get_control(x_in, t_in, c, len(batch), options)
    wrapper = model_options.get(mo.MODEL_FUNCTION_WRAPPER)
    if wrapper is not None:
        return wrapper(model.apply_model, {"input": x_in, "timestep": t_in, "c": c,
                                           "cond_or_uncond": options["cond_or_uncond"]})
    return model.apply_model(x_in, t_in, **c)


def _calc_cond_batch(model: Any, conds: Conds, x_in: torch.Tensor, timestep: torch.Tensor,
                     model_options: dict) -> list[torch.Tensor]:
    outs = [torch.zeros_like(x_in) for _ in conds]
    counts = [torch.ones_like(x_in) * 1e-37 for _ in conds]
    pending = cond_batch.pending_jobs(conds, x_in, timestep)
    while pending:
        batch = cond_batch.next_batch(pending)
        denoised = _run_batch(model, batch, timestep, model_options).chunk(len(batch))
        for j, d in zip(batch, denoised):
            out, cnt = outs[j.side], counts[j.side]
            if j.area is not None:
                h, w, top, left = j.area
                out, cnt = out[:, :, top : top + h, left : left + w], cnt[:, :, top : top + h, left : left + w]
            out += d * j.mult
            cnt += j.mult
    return [o / c for o, c in zip(outs, counts)]


def calc_cond_batch(model: Any, conds: Conds, x_in: torch.Tensor, timestep: torch.Tensor,
                    model_options: dict) -> list[torch.Tensor]:
    """Weighted-average denoised prediction per cond list ([B, C, h, w] each; zeros for a
    None list), through the CALC_COND_BATCH wrappers."""
    wrappers = get_all_wrappers(WrappersMP.CALC_COND_BATCH, model_options, is_model_options=True)
    if not wrappers:
        return _calc_cond_batch(model, conds, x_in, timestep, model_options)
    executor = WrapperExecutor.new_executor(_calc_cond_batch, wrappers)
    return executor.execute(model, conds, x_in, timestep, model_options)


def cfg_function(model: Any, cond_pred: torch.Tensor, uncond_pred: torch.Tensor, cond_scale: float,
                 x: torch.Tensor, timestep: torch.Tensor, model_options: dict | None = None,
                 cond: Any = None, uncond: Any = None) -> torch.Tensor:
    """uncond + (cond − uncond)·scale, or `sampler_cfg_function`; then the post-CFG functions."""
    model_options = model_options or {}
    cfg_fn = model_options.get(mo.CFG_FUNCTION)
    if cfg_fn is not None:
        args = {"cond": x - cond_pred, "uncond": x - uncond_pred, "cond_scale": cond_scale, "timestep": timestep,
                "input": x, "sigma": timestep, "cond_denoised": cond_pred, "uncond_denoised": uncond_pred,
                "model": model, "model_options": model_options, "input_cond": cond, "input_uncond": uncond}
        result = x - cfg_fn(args)
    else:
        result = uncond_pred + (cond_pred - uncond_pred) * cond_scale
    for fn in mo.post_cfg_functions(model_options):
        result = fn({"denoised": result, "cond": cond, "uncond": uncond, "cond_scale": cond_scale, "model": model,
                     "uncond_denoised": uncond_pred, "cond_denoised": cond_pred, "sigma": timestep,
                     "model_options": model_options, "input": x})
    return result


def sampling_function(model: Any, x: torch.Tensor, timestep: torch.Tensor, uncond: Any, cond: Any,
                      cond_scale: float, model_options: dict | None = None, seed: int | None = None) -> torch.Tensor:
    """The guided denoised estimate at σ `timestep` (note the (uncond, cond) order). At
    cfg 1 the negative is skipped (its prediction is zeros) unless
    `disable_cfg1_optimization` is set."""
    model_options = model_options or {}
    skip = math.isclose(cond_scale, 1.0) and not mo.cfg1_optimization_disabled(model_options)
    conds = [cond, None if skip else uncond]
    batch_fn = model_options.get(mo.CALC_COND_BATCH_FUNCTION)
    if batch_fn is not None:
        out = batch_fn({"conds": conds, "input": x, "sigma": timestep, "model": model, "model_options": model_options})
    else:
        out = (replaced_step_function("calc_cond_batch") or calc_cond_batch)(model, conds, x, timestep,
                                                                              model_options)
    for fn in mo.pre_cfg_functions(model_options):
        out = fn({"conds": conds, "conds_out": out, "cond_scale": cond_scale, "timestep": timestep, "input": x,
                  "sigma": timestep, "model": model, "model_options": model_options})
    return (replaced_step_function("cfg_function") or cfg_function)(model, out[0], out[1], cond_scale, x, timestep, model_options=model_options,
                        cond=cond, uncond=conds[1])


class ChunkSplitter:
    """A `model_function_wrapper` that, after running out of memory, runs each batched call
    in pieces: whole chunks (one cond entry's rows) together while they fit, else slices
    of one chunk, each piece with its own `cond_or_uncond` / `uuids`, so patches that read
    them stay right. Wraps the model's own wrapper (`inner`) when it has one."""

    def __init__(self, on_oom: Callable[[], None], inner: Callable[..., torch.Tensor] | None = None) -> None:
        self.on_oom, self.inner = on_oom, inner
        self.max_rows: int | None = None  # rows per call that last worked (None: all)

    def __call__(self, apply_model: Callable[..., torch.Tensor], args: dict) -> torch.Tensor:
        rows = int(args["input"].shape[0])
        size = rows if self.max_rows is None else min(rows, self.max_rows)
        while True:
            try:
                return self._run(apply_model, args, rows, size)
            except Exception as exc:  # noqa: BLE001 - filtered by is_oom, others re-raised
                if not is_oom(exc) or size <= 1:
                    raise
                log.warning("out of memory at batch %d (%s); retrying in chunks of %d",
                            size, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, (size + 1) // 2)
            size = (size + 1) // 2
            self.max_rows = size
            self.on_oom()

    def _call(self, apply_model: Callable[..., torch.Tensor], args: dict) -> torch.Tensor:
        if self.inner is not None:
            return self.inner(apply_model, args)
        return apply_model(args["input"], args["timestep"], **args["c"])

    def _run(self, apply_model: Callable[..., torch.Tensor], args: dict, rows: int, size: int) -> torch.Tensor:
        if size >= rows:
            return self._call(apply_model, args)
        sides = list(args["cond_or_uncond"])
        per_chunk = rows // len(sides)
        out = None
        for start, stop in _pieces(rows, per_chunk, size):
            part = self._call(apply_model, _slice_args(args, start, stop, per_chunk))
            out = part.new_empty((rows, *part.shape[1:])) if out is None else out
            out[start:stop] = part
        return out


def _pieces(rows: int, per_chunk: int, size: int) -> list[tuple[int, int]]:
    """Row ranges: groups of whole chunks when `size` holds at least one chunk, else
    slices of at most `size` rows that never cross a chunk boundary."""
    if size >= per_chunk:
        step = size // per_chunk * per_chunk
        return [(s, min(s + step, rows)) for s in range(0, rows, step)]
    return [(c + s, min(c + s + size, c + per_chunk)) for c in range(0, rows, per_chunk)
            for s in range(0, per_chunk, size)]


def _rows(value: Any, start: int, stop: int, rows: int) -> Any:
    """Rows [start, stop) of every batch-sized tensor in `value` (dicts and lists walked)."""
    if isinstance(value, torch.Tensor):
        return value[start:stop] if value.ndim > 0 and value.shape[0] == rows else value
    if isinstance(value, dict):
        return {k: _rows(v, start, stop, rows) for k, v in value.items()}
    if isinstance(value, list):
        return [_rows(v, start, stop, rows) for v in value]
    return value


def _slice_args(args: dict, start: int, stop: int, per_chunk: int) -> dict:
    rows = int(args["input"].shape[0])
    chunks = range(start // per_chunk, (stop - 1) // per_chunk + 1)
    c = {k: (v if k == "transformer_options" else _rows(v, start, stop, rows)) for k, v in args["c"].items()}
    options = dict(c["transformer_options"])
    sides = [args["cond_or_uncond"][i] for i in chunks]
    options["cond_or_uncond"] = sides
    options["uuids"] = [options.get("uuids", [None] * (rows // per_chunk))[i] for i in chunks]
    c["transformer_options"] = options
    return {"input": args["input"][start:stop], "timestep": args["timestep"][start:stop], "c": c,
            "cond_or_uncond": sides}
