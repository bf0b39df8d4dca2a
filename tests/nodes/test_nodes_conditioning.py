"""Conditioning transform nodes on ComfyUI's CONDITIONING lists."""

from __future__ import annotations

import pytest
import torch

from nodes import NODE_DISPLAY_NAME_MAPPINGS as D
from nodes.conditioning import (ConditioningAverage, ConditioningCombine, ConditioningConcat,
                                ConditioningSetArea, ConditioningSetAreaPercentage,
                                ConditioningSetAreaStrength, ConditioningSetMask,
                                ConditioningSetTimestepRange, ConditioningZeroOut)


def cond(value, tokens=77, pooled=None):
    opts = {} if pooled is None else {"pooled_output": torch.full((1, 4), pooled)}
    return [[torch.full((1, tokens, 8), value), opts]]


def test_combine_is_list_concat():
    a, b = cond(1.0), cond(2.0)
    assert ConditioningCombine().combine(a, b)[0] == a + b


def test_average_pads_or_truncates_from_and_blends_pooled():
    (out,) = ConditioningAverage().addWeighted(cond(1.0, 154, 1.0), cond(3.0, 77, 3.0), 0.25)
    t, opts = out[0]
    assert t.shape == (1, 154, 8)
    assert t[0, 0, 0].item() == pytest.approx(2.5) and t[0, 100, 0].item() == pytest.approx(0.25)
    assert opts["pooled_output"][0, 0].item() == pytest.approx(2.5)
    (out,) = ConditioningAverage().addWeighted(cond(1.0, 77), cond(3.0, 154, 3.0), 0.5)
    assert out[0][0].shape == (1, 77, 8) and out[0][1]["pooled_output"][0, 0] == 3.0


def test_concat_appends_tokens():
    (out,) = ConditioningConcat().concat(cond(1.0, 77), cond(2.0, 77) + cond(5.0))
    assert out[0][0].shape == (1, 154, 8) and out[0][0][0, 100, 0] == 2.0


def test_area_strength_and_range_options_do_not_touch_input():
    src = cond(1.0)
    (out,) = ConditioningSetArea().append(src, 200, 96, 15, 64, 0.5)
    assert out[0][1] == {"area": (12, 25, 8, 1), "strength": 0.5, "set_area_to_bounds": False}
    assert src[0][1] == {} and out[0][0] is src[0][0]
    (out,) = ConditioningSetAreaPercentage().append(src, 0.5, 0.25, 0.1, 0.2, 1.0)
    assert out[0][1]["area"] == ("percentage", 0.25, 0.5, 0.2, 0.1)
    assert ConditioningSetAreaStrength().append(src, 2.0)[0][0][1] == {"strength": 2.0}
    (out,) = ConditioningSetTimestepRange().set_range(src, 0.1, 0.6)
    assert out[0][1] == {"start_percent": 0.1, "end_percent": 0.6}


def test_set_mask_and_zero_out():
    (out,) = ConditioningSetMask().append(cond(1.0), torch.ones(4, 4), "mask bounds", 0.7)
    opts = out[0][1]
    assert opts["mask"].shape == (1, 4, 4) and opts["set_area_to_bounds"] is True
    assert opts["mask_strength"] == 0.7
    (out,) = ConditioningZeroOut().zero_out(cond(1.0, pooled=2.0))
    assert torch.count_nonzero(out[0][0]) == 0
    assert torch.count_nonzero(out[0][1]["pooled_output"]) == 0


def test_categories_and_titles():
    assert ConditioningZeroOut.CATEGORY == "advanced/conditioning"
    assert ConditioningSetArea.CATEGORY == "conditioning"
    assert "ConditioningAverage" not in D and D["ConditioningCombine"] == "Conditioning (Combine)"
    spec = ConditioningSetArea.INPUT_TYPES()["required"]["width"]
    assert spec == ("INT", {"default": 64, "min": 64, "max": 16384, "step": 8})
