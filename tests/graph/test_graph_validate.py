import copy
import math

import pytest

from comfy_core.graph import validate_prompt
from comfy_core.registry import NodeRegistry


class Num:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"min": 0, "max": 100})},
                "optional": {"scale": ("FLOAT", {"min": 0.0})}}

    def run(self, value, scale=1.0):
        return (value,)


class Text:
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING",), "mode": (["a", "b"],),
                             "many": ("COMBO", {"options": [str(i) for i in range(25)]}),
                             "flag": ("BOOLEAN",)}}

    def run(self, **kw):
        return ("",)


class Sink:
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT,FLOAT",)}, "optional": {"any": ("*",)},
                "hidden": {"prompt": "PROMPT"}}

    def run(self, **kw):
        return ()


class Picky(Sink):
    @classmethod
    def VALIDATE_INPUTS(cls, value):
        return True if value is None or value < 50 else "value too large"


class Exploding(Sink):
    @classmethod
    def VALIDATE_INPUTS(cls, value):
        raise RuntimeError("validator exploded")


class ExplodingInner(Num):
    @classmethod
    def VALIDATE_INPUTS(cls, value):
        raise RuntimeError("inner exploded")


class Typed(Sink):
    """Asks for input_types, so link types are not checked for it."""

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        return True


@pytest.fixture
def reg():
    r = NodeRegistry()
    for c in (Num, Text, Sink, Picky, Exploding, ExplodingInner, Typed):
        r.register(c.__name__, c)
    return r


def good_prompt():
    return {"1": {"class_type": "Num", "inputs": {"value": "7", "scale": 2}},
            "2": {"class_type": "Sink", "inputs": {"value": ["1", 0]}, "_meta": {"title": "x"}}}


def only_error(v, node="2"):
    assert not v.ok or v.node_errors
    errors = v.node_errors[node]["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def test_valid_prompt_converts_constants_in_a_copy(reg):
    prompt = good_prompt()
    before = copy.deepcopy(prompt)
    v = validate_prompt(reg, prompt)
    assert v.ok and v.error is None and v.node_errors == {} and v.outputs == ["2"]
    assert v.prompt["1"]["inputs"] == {"value": 7, "scale": 2.0}
    assert isinstance(v.prompt["1"]["inputs"]["scale"], float)
    assert prompt == before


@pytest.mark.parametrize("prompt, message", [
    ({"1": {"inputs": {}}}, "missing the class_type"),
    ({"1": {"class_type": "Nope", "inputs": {}}}, "node Nope does not exist"),
    ({"1": {"class_type": ["x"], "inputs": {}}}, "does not exist"),
    ({"1": "junk"}, "missing the class_type"),
    ({"1": {"class_type": "Sink", "inputs": [1]}}, "inputs"),
    ([1, 2], "not an object"),
    (None, "not an object"),
])
def test_invalid_prompt(reg, prompt, message):
    v = validate_prompt(reg, prompt)
    assert not v.ok and v.error["type"] == "invalid_prompt" and v.node_errors == {}
    assert message in v.error["message"]
    assert set(v.error) == {"type", "message", "details", "extra_info"}


def test_no_outputs(reg):
    v = validate_prompt(reg, {"1": {"class_type": "Num", "inputs": {"value": 1}}})
    assert v.error == {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                       "details": "", "extra_info": {}}
    v = validate_prompt(reg, good_prompt(), partial_targets=["1"])
    assert v.error["type"] == "prompt_no_outputs"


def test_partial_targets_select_outputs(reg):
    prompt = good_prompt()
    prompt["3"] = {"class_type": "Sink", "inputs": {"value": 1}}
    assert validate_prompt(reg, prompt, partial_targets=["3"]).outputs == ["3"]
    assert validate_prompt(reg, prompt).outputs == ["2", "3"]


def test_required_input_missing(reg):
    v = validate_prompt(reg, {"2": {"class_type": "Sink", "inputs": {}}})
    assert not v.ok and v.error["type"] == "prompt_outputs_failed_validation"
    err = only_error(v)
    assert err == {"type": "required_input_missing", "message": "Required input is missing",
                   "details": "value", "extra_info": {"input_name": "value"}}
    assert v.node_errors["2"]["dependent_outputs"] == ["2"]
    assert v.node_errors["2"]["class_type"] == "Sink"
    assert v.error["details"] == "Required input is missing: value"


@pytest.mark.parametrize("link", [["1", 0, 1], ["1"], ["9", 0], ["1", 5], [1, 0], ["1", -1], ["1", True]])
def test_bad_linked_input(reg, link):
    prompt = good_prompt()
    prompt["2"]["inputs"]["value"] = link
    err = only_error(validate_prompt(reg, prompt))
    assert err["type"] == "bad_linked_input"
    assert err["extra_info"]["received_value"] == link


def test_return_type_mismatch_and_unions(reg):
    prompt = {"1": {"class_type": "Text", "inputs": {"text": "", "mode": "a", "many": "1", "flag": 1}},
              "2": {"class_type": "Sink", "inputs": {"value": ["1", 0], "any": ["1", 0]}}}
    err = only_error(validate_prompt(reg, prompt))
    assert err["type"] == "return_type_mismatch"
    assert err["details"] == "value, received_type(STRING) mismatch input_type(INT,FLOAT)"
    assert err["extra_info"]["linked_node"] == ["1", 0]
    assert validate_prompt(reg, good_prompt()).ok  # INT into "INT,FLOAT"
    prompt["2"]["class_type"] = "Typed"
    assert validate_prompt(reg, prompt).ok


@pytest.mark.parametrize("value", ["abc", [1, 2, 3], {"a": 1}, float("inf"), float("nan"), None])
def test_invalid_input_type(reg, value):
    prompt = good_prompt()
    prompt["1"]["inputs"]["value"] = value if not isinstance(value, list) else {"__value__": value}
    err = only_error(validate_prompt(reg, prompt), "1")
    assert err["type"] == "invalid_input_type"
    assert err["message"] == "Failed to convert an input value to a INT value"


@pytest.mark.parametrize("field, value, kind, message", [
    ("value", -1, "value_smaller_than_min", "Value -1 smaller than min of 0"),
    ("value", 101, "value_bigger_than_max", "Value 101 bigger than max of 100"),
    ("value", 10**400, "value_bigger_than_max", None),
    ("scale", float("nan"), "value_smaller_than_min", "Value nan smaller than min of 0.0"),
])
def test_min_max(reg, field, value, kind, message):
    prompt = good_prompt()
    prompt["1"]["inputs"][field] = value
    err = only_error(validate_prompt(reg, prompt), "1")
    assert err["type"] == kind and err["details"] == field
    if message:
        assert err["message"] == message


def test_value_not_in_list_and_conversions(reg):
    inputs = {"text": 5, "mode": "c", "many": "1", "flag": "false"}
    prompt = {"1": {"class_type": "Text", "inputs": inputs},
              "2": {"class_type": "Sink", "inputs": {"value": 1, "any": ["1", 0]}}}
    err = only_error(validate_prompt(reg, prompt), "1")
    assert err["type"] == "value_not_in_list"
    assert err["details"] == "mode: 'c' not in ['a', 'b']"
    assert err["extra_info"]["input_config"] == [["a", "b"], {}]
    inputs.update(mode="a", many="99")
    err = only_error(validate_prompt(reg, prompt), "1")
    assert err["details"] == "many: '99' not in (list of length 25)"
    assert err["extra_info"]["input_config"] is None
    inputs["many"] = "24"
    v = validate_prompt(reg, prompt)
    assert v.ok and v.prompt["1"]["inputs"]["text"] == "5" and v.prompt["1"]["inputs"]["flag"] is True


def test_custom_validation(reg):
    prompt = {"2": {"class_type": "Picky", "inputs": {"value": 70}}}
    err = only_error(validate_prompt(reg, prompt))
    assert err["type"] == "custom_validation_failed"
    assert err["details"] == "any - value too large"
    prompt["2"]["inputs"]["value"] = 5000  # VALIDATE_INPUTS takes "value": no range check either
    assert validate_prompt(reg, prompt).error["type"] == "prompt_outputs_failed_validation"
    prompt["2"]["inputs"]["value"] = ["1", 0]  # links reach VALIDATE_INPUTS as None
    prompt["1"] = {"class_type": "Num", "inputs": {"value": 1}}
    assert validate_prompt(reg, prompt).ok


def test_exceptions_during_validation(reg):
    v = validate_prompt(reg, {"2": {"class_type": "Exploding", "inputs": {"value": 1}}})
    err = only_error(v)
    assert err["type"] == "exception_during_validation" and err["details"] == "validator exploded"
    assert err["extra_info"]["exception_type"] == "RuntimeError"
    prompt = good_prompt()
    prompt["1"]["class_type"] = "ExplodingInner"
    err = only_error(validate_prompt(reg, prompt), "1")
    assert err["type"] == "exception_during_inner_validation"
    assert err["extra_info"]["input_name"] == "value"
    assert err["extra_info"]["linked_node"] == ["1", 0]


def test_partially_valid_prompt_is_ok_with_node_errors(reg):
    prompt = good_prompt()
    prompt["3"] = {"class_type": "Num", "inputs": {"value": -5}}
    prompt["4"] = {"class_type": "Sink", "inputs": {"value": ["3", 0]}}
    prompt["5"] = {"class_type": "Sink", "inputs": {"value": ["3", 0]}}
    v = validate_prompt(reg, prompt)
    assert v.ok and v.outputs == ["2"]
    assert list(v.node_errors) == ["3"]  # downstream nodes are not listed
    assert v.node_errors["3"]["dependent_outputs"] == ["4", "5"]


def test_dependency_cycle_is_rejected(reg):
    prompt = {"1": {"class_type": "Num", "inputs": {"value": 1}},
              "2": {"class_type": "Sink", "inputs": {"value": ["3", 0]}},
              "3": {"class_type": "Num", "inputs": {"value": ["4", 0]}},
              "4": {"class_type": "Num", "inputs": {"value": ["3", 0]}}}
    v = validate_prompt(reg, prompt)
    assert not v.ok
    assert v.node_errors["3"]["errors"][0]["type"] == "dependency_cycle"
    assert v.node_errors["4"]["errors"][0]["type"] == "dependency_cycle"
    assert "3" in v.node_errors["4"]["errors"][0]["details"]
    assert "2" not in v.node_errors and "1" not in v.node_errors


def test_long_chain_does_not_recurse(reg):
    prompt = {"0": {"class_type": "Num", "inputs": {"value": 1}}}
    for i in range(1, 3000):
        prompt[str(i)] = {"class_type": "Num", "inputs": {"value": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "Sink", "inputs": {"value": ["2999", 0]}}
    # "value" of Num is an INT widget receiving a link: allowed (INT -> INT)
    assert validate_prompt(reg, prompt).ok


@pytest.mark.parametrize("junk", [
    {"1": {"class_type": "Sink", "inputs": {"value": {"__value__": None}}}},
    {"1": {"class_type": "Sink", "inputs": {"value": [[["x"]], 0]}}},
    {"1": {"class_type": "Sink", "inputs": {"value": ["1", 0]}}},
    {"1": {"class_type": "Sink", "inputs": {"value": math.inf, "any": {"a": [1]}}}},
    {"1": {"class_type": "Sink", "inputs": {"value": 1, "unknown": ["zz", 0]}}},
    {"": {"class_type": "Sink", "inputs": {"value": 1}}},
    {},
])
def test_never_raises_on_junk(reg, junk):
    v = validate_prompt(reg, junk)
    assert isinstance(v.ok, bool)
