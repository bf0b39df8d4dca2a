"""Validation work grows linearly with the graph, also when many outputs fail, a cycle is
long or erroring nodes form a chain."""

import json

import pytest

from comfy_core.graph import validate as validate_module
from comfy_core.graph import topological_order, validate_prompt
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


class Pair(Num):
    """Two inputs: a chain link and a second link or constant."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"min": 0, "max": 100}),
                             "b": ("INT", {"min": 0, "max": 100})}}


@pytest.fixture
def reg2(reg):
    reg.register_mappings({"Pair": Pair}, None, "nodes")
    return reg


def cycle(n: int) -> dict:
    prompt = {str(i): {"class_type": "Num", "inputs": {"value": [str((i - 1) % n), 0]}}
              for i in range(n)}
    prompt["out"] = {"class_type": "PassOut", "inputs": {"value": ["0", 0]}}
    return prompt


def report_size(v) -> int:
    return len(json.dumps(v.node_errors)) + len(json.dumps(v.error))


def test_long_cycle_is_reported_in_linear_space(reg, visits):
    """Every member of a cycle is reported, each with a short error: a 2n-node cycle
    costs twice an n-node one (a per-member copy of the cycle made this quadratic)."""
    small, large = validate_prompt(reg, cycle(1000)), validate_prompt(reg, cycle(2000))
    assert visits["n"] <= 3 * (1001 + 2001)
    assert not large.ok and set(large.node_errors) == {str(i) for i in range(2000)}
    err = large.node_errors["7"]["errors"][0]
    assert err["type"] == "dependency_cycle" and "2000 nodes" in err["details"]
    assert err["extra_info"]["cycle_size"] == 2000 and len(err["extra_info"]["cycle"]) <= 10
    assert large.node_errors["7"]["dependent_outputs"] == ["out"]
    assert report_size(large) < 2.2 * report_size(small)


def test_cycle_through_every_node_of_a_chain_is_one_component():
    """Each node of a chain also links to the tail: n back edges, one cycle, linear walk."""
    n = 3000
    deps = {str(i): [str(i - 1), str(n - 1)] if i else [str(n - 1)] for i in range(n)}
    calls = []
    order, cycles = topological_order(["out"], lambda k: calls.append(k) or (
        [str(n - 1)] if k == "out" else deps[k]))
    assert len(calls) == n + 1 and len(order) == n + 1 and order[-1] == "out"
    assert len(cycles) == 1 and sorted(cycles[0], key=int) == [str(i) for i in range(n)]


def test_order_puts_dependencies_first_and_finds_self_links():
    deps = {"o": ["b", "s"], "b": ["a"], "a": [], "s": ["s", "a"], "x": ["y"], "y": ["x"]}
    order, cycles = topological_order(["o", "x"], deps.__getitem__)
    assert order.index("a") < order.index("b") < order.index("o")
    assert order.index("s") < order.index("o") and sorted(order) == sorted(deps)
    assert sorted(map(sorted, cycles)) == [["s"], ["x", "y"]]


def test_erroring_chain_feeding_many_outputs_is_bounded(reg2, monkeypatch):
    """k erroring nodes in a chain, each of m outputs fed by its end: k*m (node, output)
    pairs. Past the work limit the lists stop growing and the error says so, while every
    erroring node is still reported."""
    monkeypatch.setattr(validate_module, "MAX_REPORT_WORK", 2000)
    k = m = 80
    prompt = {"0": {"class_type": "Pair", "inputs": {"a": -1, "b": -1}}}
    for i in range(1, k):
        prompt[str(i)] = {"class_type": "Pair", "inputs": {"a": [str(i - 1), 0], "b": -1}}
    for j in range(m):
        prompt[f"o{j}"] = {"class_type": "PassOut", "inputs": {"value": [str(k - 1), 0]}}
    v = validate_prompt(reg2, prompt)
    assert not v.ok and list(v.node_errors) == [str(i) for i in range(k)]
    pairs = sum(len(e["dependent_outputs"]) for e in v.node_errors.values())
    assert 0 < pairs <= 2000
    assert v.error["extra_info"]["dependent_outputs_truncated"] is True
    assert "incomplete" in v.error["details"]
    # within the limit the same graph is reported in full
    monkeypatch.setattr(validate_module, "MAX_REPORT_WORK", 200_000)
    full = validate_prompt(reg2, prompt)
    assert all(e["dependent_outputs"] == [f"o{j}" for j in range(m)]
               for e in full.node_errors.values())
    assert "dependent_outputs_truncated" not in full.error["extra_info"]


def test_erroring_chain_to_one_output_lists_every_culprit(reg2, monkeypatch):
    """Growing culprit sets along an erroring chain exceed the set budget; the output's
    culprits are then found by walking its ancestors, still in full."""
    monkeypatch.setattr(validate_module, "MAX_REPORT_WORK", 3000)
    k = 300
    prompt = {"0": {"class_type": "Pair", "inputs": {"a": -1, "b": -1}}}
    for i in range(1, k):
        prompt[str(i)] = {"class_type": "Pair", "inputs": {"a": [str(i - 1), 0], "b": -1}}
    prompt["out"] = {"class_type": "PassOut", "inputs": {"value": [str(k - 1), 0]}}
    v = validate_prompt(reg2, prompt)
    assert list(v.node_errors) == [str(i) for i in range(k)]
    assert all(e["dependent_outputs"] == ["out"] for e in v.node_errors.values())
    assert "dependent_outputs_truncated" not in v.error["extra_info"]
