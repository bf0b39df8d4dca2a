"""V3 nodes in the executor: nested dynamic inputs, lazy inputs, expansion, blocking,
async execute, hidden values on a per-run class clone, fingerprints, classic returns."""

import pytest

from comfy_core.graph import validate_prompt
from exec_nodes import Harness
from exec_nodes_v3 import V3Show, make_mixed_registry


def harness() -> Harness:
    return Harness(registry=make_mixed_registry())


def show(source: str) -> dict:
    return {"class_type": "Show", "inputs": {"value": [source, 0]}}


def test_autogrow_entries_arrive_as_one_dict():
    prompt = {"1": {"class_type": "V3Number", "inputs": {"value": 2}},
              "2": {"class_type": "V3Sum", "inputs": {"numbers.n0": ["1", 0], "numbers.n1": 5,
                                                      "numbers.n3": 7}},
              "3": show("2")}
    assert harness().run(prompt).outputs == {"3": {"values": [14]}}


def test_dynamic_combo_brings_the_chosen_options_inputs():
    h = harness()
    const = {"1": {"class_type": "V3Pick", "inputs": {"mode": "const", "mode.value": 9}},
             "2": show("1")}
    assert h.run(const).outputs == {"2": {"values": [9]}}
    add = {"1": {"class_type": "Number", "inputs": {"value": 3}},
           "2": {"class_type": "V3Pick", "inputs": {"mode": "add", "mode.a": ["1", 0],
                                                    "mode.b": 4, "mode.value": 99}},
           "3": show("2")}
    assert h.run(add).outputs == {"3": {"values": [7]}}


def test_lazy_matchtype_switch_runs_only_the_chosen_branch():
    h = harness()
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 1}},
              "2": {"class_type": "Fail", "inputs": {"value": 2}},
              "3": {"class_type": "V3Switch", "inputs": {"switch": False, "on_false": ["1", 0],
                                                         "on_true": ["2", 0]}},
              "4": show("3")}
    result = h.run(prompt)
    assert result.status_str == "success" and result.outputs == {"4": {"values": [1]}}
    assert "2" not in h.executing()


def test_lazy_check_names_nested_entries_by_prompt_key():
    h = harness()
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 6}},
              "2": {"class_type": "Fail", "inputs": {"value": 0}},
              "3": {"class_type": "V3FirstOf", "inputs": {"values.first": ["1", 0],
                                                          "values.second": ["2", 0]}},
              "4": show("3")}
    result = h.run(prompt)
    assert result.status_str == "success" and result.outputs == {"4": {"values": [6]}}
    assert h.executing().count("2") == 0


def test_expansion_uses_the_hidden_unique_id():
    h = harness()
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 21}},
              "5": {"class_type": "V3Double", "inputs": {"x": ["1", 0]}}, "6": show("5")}
    result = h.run(prompt)
    assert result.outputs == {"6": {"values": [42]}}
    assert "5.add" in h.executing()


def test_expand_without_enable_expand_is_an_error_naming_the_node():
    h = harness()
    prompt = {"1": {"class_type": "V3ExpandWithoutFlag", "inputs": {"x": 1}}, "2": show("1")}
    result = h.run(prompt)
    assert result.status_str == "error"
    assert "enable_expand" in result.error["exception_message"]
    assert result.error["node_id"] == "1"


@pytest.mark.parametrize("message,errors", [("stop here", 1), ("silent", 0)])
def test_block_execution_blocks_downstream(message, errors):
    h = harness()
    prompt = {"1": {"class_type": "V3Gate", "inputs": {"value": 1, "message": message}},
              "2": show("1")}
    result = h.run(prompt)
    assert result.status_str == "success" and result.outputs == {}  # node 2 never ran
    assert len(h.of_type("execution_error")) == errors
    if errors:
        assert h.of_type("execution_error")[0]["exception_message"] == "Execution Blocked: stop here"


def test_async_execute_and_classic_returns():
    h = harness()
    prompt = {"1": {"class_type": "V3AsyncAdd", "inputs": {"a": 2, "b": 3}},
              "2": {"class_type": "V3Legacy", "inputs": {"value": ["1", 0]}},
              "3": {"class_type": "V3Legacy", "inputs": {"value": 2}},
              "4": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": ["3", 0]}},
              "5": show("4")}
    assert h.run(prompt).outputs == {"5": {"values": [250]}}


def test_hidden_values_live_on_a_per_run_clone():
    h = harness()
    prompt = {"7": {"class_type": "V3Show", "inputs": {"value": 3}}}
    result = h.run(prompt, extra_data={"extra_pnginfo": {"workflow": 1}})
    assert result.outputs == {"7": {"text": ["3 id=7 prompt=True png={'workflow': 1}"]}}
    assert V3Show.hidden is None and "touched" not in V3Show.__dict__


def test_fingerprint_nan_reruns_and_validate_inputs_reports():
    h = harness()
    prompt = {"1": {"class_type": "V3Volatile", "inputs": {"value": 1}}, "2": show("1")}
    h.run(prompt)
    h.run(prompt)
    assert h.executing() == ["1", "2"]
    bad = {"1": {"class_type": "V3Checked", "inputs": {"value": 4}}, "2": show("1")}
    v = validate_prompt(h.registry, bad)
    err = v.node_errors["1"]["errors"][0]
    assert err["type"] == "custom_validation_failed"
    assert err["details"] == "value - 4 is unlucky (node 1)"
