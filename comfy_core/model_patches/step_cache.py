"""Step caching (Zhou et al. 2025, "Less is Enough: Training-Free Video Diffusion
Acceleration via Runtime-Adaptive Caching"): inside a σ window, a model call is skipped
when the accumulated predicted change of the output stays under a threshold, and the last
computed output-minus-input change is added to the new input instead.

The rule, per call of the first cond in the window: with Δin = mean|x − x_prev| (on an
8x-subsampled grid), k = Δout/Δin from the last two computed calls and the last output's
mean magnitude ‖o‖, the predicted relative change k·Δin/‖o‖ is summed; below
`reuse_threshold` the call is skipped (o ≈ x + (o_prev − x_prev)), else it runs and the
sum restarts. EasyCache works on the diffusion model's calls (a change per cond uuid);
LazyCache on whole guided predictions. Both live in `transformer_options["easycache"]`
and are cloned fresh for each sampling run by their OUTER_SAMPLE wrapper.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch

log = logging.getLogger(__name__)
CACHE_KEY = "easycache"
SUBSAMPLE = 8


class StepCache:
    """The state and skip rule shared by both caches."""

    name = "StepCache"

    def __init__(self, reuse_threshold: float, start_percent: float, end_percent: float, channels: int,
                 verbose: bool = False) -> None:
        self.reuse_threshold, self.start_percent, self.end_percent = reuse_threshold, start_percent, end_percent
        self.channels, self.verbose = channels, verbose
        self.start_sigma, self.end_sigma = 0.0, 0.0
        self.rate: torch.Tensor | None = None  # k = Δout / Δin
        self.cumulative = 0.0
        self.x_prev: torch.Tensor | None = None
        self.out_prev: torch.Tensor | None = None
        self.out_norm: torch.Tensor | None = None
        self.skipped = 0
        self.metadata: tuple | None = None

    def clone(self) -> "StepCache":
        return type(self)(self.reuse_threshold, self.start_percent, self.end_percent, self.channels, self.verbose)

    def prepare(self, model_sampling: Any) -> "StepCache":
        self.start_sigma = model_sampling.percent_to_sigma(self.start_percent)
        self.end_sigma = model_sampling.percent_to_sigma(self.end_percent)
        return self

    def past_end(self, sigma: torch.Tensor) -> bool:
        return not float(sigma[0]) > self.end_sigma

    def in_window(self, sigma: torch.Tensor) -> bool:
        return float(sigma[0]) <= self.start_sigma

    def same_kind(self, x: torch.Tensor) -> bool:
        """False (and the state reset) when the latent's shape, dtype or device changed."""
        metadata = (x.device, x.dtype, tuple(x.shape[1:]))
        if self.metadata is None or self.metadata == metadata:
            self.metadata = metadata
            return True
        log.warning("%s: the latent's shape, dtype or device changed; state reset", self.name)
        self.reset()
        return False

    def reset(self) -> None:
        fresh = self.clone()
        fresh.start_sigma, fresh.end_sigma = self.start_sigma, self.end_sigma
        self.__dict__.update(fresh.__dict__)

    def input_change(self, sub_x: torch.Tensor) -> torch.Tensor | None:
        return None if self.x_prev is None else (sub_x - self.x_prev).abs().mean()

    def should_skip(self, change: torch.Tensor | None) -> bool:
        """Add the predicted relative output change; True while the sum stays under the
        threshold (then the caller reuses), else the sum restarts."""
        if change is None or self.out_norm is None or self.rate is None:
            return False
        self.cumulative += float(self.rate * change / self.out_norm)
        if self.cumulative < self.reuse_threshold:
            if self.verbose:
                log.info("%s: skipping a step (accumulated change %.4f)", self.name, self.cumulative)
            return True
        self.cumulative = 0.0
        return False

    def observe(self, sub_x: torch.Tensor, out: torch.Tensor, sub_out: torch.Tensor, change: torch.Tensor | None) -> None:
        """Record a computed call: k from the output change, and this call as the previous."""
        if self.out_prev is not None and change is not None:
            self.rate = (sub_out - self.out_prev).abs().mean() / change
        self.x_prev, self.out_prev, self.out_norm = sub_x.clone(), sub_out.clone(), out.abs().mean()


def _sub(x: torch.Tensor) -> torch.Tensor:
    return x[..., ::SUBSAMPLE, ::SUBSAMPLE]


class EasyCache(StepCache):
    """Per-cond changes of the diffusion model's output; the first cond seen in the window
    decides for the step, the others follow its decision."""

    name = "EasyCache"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_uuid: Any = None
        self.skip_step = False
        self.diffs: dict[Any, torch.Tensor] = {}

    def _rows(self, x: torch.Tensor, uuids: list) -> torch.Tensor:
        per = x.shape[0] // len(uuids)
        i = uuids.index(self.first_uuid)
        return x[i * per:(i + 1) * per]

    def reuse(self, x: torch.Tensor, uuids: list) -> torch.Tensor:
        if self.first_uuid in uuids:
            self.skipped += 1
        per = x.shape[0] // len(uuids)
        return torch.cat([x[i * per:(i + 1) * per] + self.diffs[u].to(x) for i, u in enumerate(uuids)])

    def forward(self, executor: Callable[..., torch.Tensor], args: tuple, kwargs: dict) -> torch.Tensor:
        options = args[-1] if isinstance(args[-1], dict) else kwargs["transformer_options"]
        x, sigmas, uuids = args[0][:, :self.channels], options["sigmas"], list(options["uuids"])
        if self.past_end(sigmas):
            return executor(*args, **kwargs)
        change, first = None, self.first_uuid in uuids
        if self.in_window(sigmas):
            self.same_kind(x)
            cached = all(u in self.diffs for u in uuids)
            if self.skip_step and cached:
                return self.reuse(x, uuids)
            if self.first_uuid is None:
                self.first_uuid, first = uuids[0], True
            if first:
                change = self.input_change(_sub(self._rows(x, uuids)))
                if self.should_skip(change) and cached:
                    self.skip_step = True
                    return self.reuse(x, uuids)
        out = executor(*args, **kwargs)
        per = out.shape[0] // len(uuids)
        for i, u in enumerate(uuids):
            self.diffs[u] = (out[:, :self.channels] - x)[i * per:(i + 1) * per]
        if first:
            rows = self._rows(out[:, :self.channels], uuids)
            self.observe(_sub(self._rows(x, uuids)), out[:, :self.channels], _sub(rows), change)
        return out


class LazyCache(StepCache):
    """One change for the whole guided prediction (x -> denoised)."""

    name = "LazyCache"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.diff: torch.Tensor | None = None

    def predict(self, executor: Callable[..., torch.Tensor], args: tuple, kwargs: dict) -> torch.Tensor:
        sigma = args[1]
        if self.past_end(sigma):
            return executor(*args, **kwargs)
        x, change = args[0][:, :self.channels], None
        if self.in_window(sigma):
            self.same_kind(x)
            change = self.input_change(_sub(x))
            if self.should_skip(change) and self.diff is not None:
                self.skipped += 1
                return x + self.diff.to(x)
        out = executor(*args, **kwargs)
        self.diff = out - x
        self.observe(_sub(x), out, _sub(out), change)
        return out


# ---- the wrappers (WrappersMP kinds) ------------------------------------------------------


def easycache_forward_wrapper(executor: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """DIFFUSION_MODEL wrapper (args: x, timesteps, context, y, control, transformer_options)."""
    options = args[-1] if isinstance(args[-1], dict) else kwargs["transformer_options"]
    return options[CACHE_KEY].forward(executor, args, kwargs)


def easycache_calc_cond_batch_wrapper(executor: Any, *args: Any, **kwargs: Any) -> list:
    """CALC_COND_BATCH wrapper: each step decides anew whether to skip."""
    args[-1]["transformer_options"][CACHE_KEY].skip_step = False
    return executor(*args, **kwargs)


def lazycache_predict_noise_wrapper(executor: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """PREDICT_NOISE wrapper (args: x, σ, model_options, seed)."""
    return args[2]["transformer_options"][CACHE_KEY].predict(executor, args, kwargs)


def step_cache_sample_wrapper(executor: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
    """OUTER_SAMPLE wrapper: a fresh cache for this run (σ window from the model's own
    sampling), the count of skipped steps logged at the end."""
    guider = executor.class_obj
    original = guider.model_options
    options = dict(original)
    options["transformer_options"] = dict(original["transformer_options"])
    cache = original["transformer_options"][CACHE_KEY].clone()
    cache.prepare(guider.model_patcher.get_model_object("model_sampling"))
    options["transformer_options"][CACHE_KEY] = cache
    guider.model_options = options
    try:
        log.info("%s enabled: threshold %s, window %s-%s", cache.name, cache.reuse_threshold,
                 cache.start_percent, cache.end_percent)
        return executor(*args, **kwargs)
    finally:
        steps = len(args[3]) - 1
        log.info("%s skipped %d of %d steps", cache.name, cache.skipped, steps)
        guider.model_options = original
