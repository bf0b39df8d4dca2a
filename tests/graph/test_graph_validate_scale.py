"""Validation work grows linearly with the graph, also when many outputs fail."""

import pytest

from comfy_core.graph import validate as validate_module
from comfy_core.graph import validate_prompt
from comfy_core.registry import NodeRegistry


class Num:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"min": 0, "max": 100})}}

    def run(self, value):
        return (value,)


class PassOut(Num):
    """An output node that also passes its value on (so outputs can form a chain)."""

    OUTPUT_NODE = True


@pytest.fixture
def reg():
    r = NodeRegistry()
    r.register_mappings({"Num": Num, "PassOut": PassOut}, None, "nodes")
    return r


@pytest.fixture
def visits(monkeypatch):
    """Counts every dependency lookup the validator's graph walks make."""
    count = {"n": 0}
    real = validate_module.topological_order

    def counting(roots, deps):
        def counted(node_id):
            count["n"] += 1
            return deps(node_id)
        return real(roots, counted)

    monkeypatch.setattr(validate_module, "topological_order", counting)
    return count


def failing_chain(n: int) -> dict:
    """A bad constant feeding a chain of n-1 output nodes: every output fails."""
    prompt = {"0": {"class_type": "Num", "inputs": {"value": -1}}}
    for i in range(1, n):
        prompt[str(i)] = {"class_type": "PassOut", "inputs": {"value": [str(i - 1), 0]}}
    return prompt


@pytest.mark.parametrize("n", [200, 800])
def test_failing_chain_visits_each_node_a_bounded_number_of_times(reg, visits, n):
    v = validate_prompt(reg, failing_chain(n))
    assert not v.ok and list(v.node_errors) == ["0"]
    assert v.node_errors["0"]["dependent_outputs"] == [str(i) for i in range(1, n)]
    assert visits["n"] <= 3 * n, f"{visits['n']} dependency lookups for {n} nodes"


def test_report_lists_every_error_with_its_dependent_outputs(reg):
    prompt = {
        "a": {"class_type": "Num", "inputs": {"value": -1}},
        "b": {"class_type": "Num", "inputs": {"value": 500}},
        "ok": {"class_type": "Num", "inputs": {"value": 3}},
        "o1": {"class_type": "PassOut", "inputs": {"value": ["a", 0]}},
        "mid": {"class_type": "PassOut", "inputs": {"value": ["b", 0]}},
        "o2": {"class_type": "PassOut", "inputs": {"value": ["mid", 0]}},
        "o3": {"class_type": "PassOut", "inputs": {"value": ["ok", 0]}},
        "o4": {"class_type": "PassOut", "inputs": {"value": ["o1", 0]}},
    }
    v = validate_prompt(reg, prompt)
    assert v.ok and v.outputs == ["o3"]
    assert list(v.node_errors) == ["a", "b"]
    assert v.node_errors["a"]["dependent_outputs"] == ["o1", "o4"]
    assert v.node_errors["b"]["dependent_outputs"] == ["mid", "o2"]
    assert v.node_errors["b"]["class_type"] == "Num"
