"""Validation of V3 dynamic inputs: dotted prompt inputs are checked like any other, and
their errors name the last part of the dotted name."""

from comfy_core.graph import validate_prompt
from comfy_core.registry import NodeRegistry
from comfy_core.registry.v3 import io


class Const(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("Const", inputs=[io.Int.Input("v")], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, v):
        return io.NodeOutput(v)


class Text(Const):
    @classmethod
    def define_schema(cls):
        return io.Schema("Text", inputs=[io.String.Input("s")], outputs=[io.String.Output()])


class Grow(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        template = io.Autogrow.TemplatePrefix(io.Int.Input("n", max=10), "n", min=2, max=4)
        return io.Schema("Grow", inputs=[io.Autogrow.Input("nums", template=template)],
                         is_output_node=True)

    @classmethod
    def execute(cls, nums):
        return io.NodeOutput()


class Pick(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        options = [io.DynamicCombo.Option("one", [io.Int.Input("value", max=50)]),
                   io.DynamicCombo.Option("two", [io.Int.Input("a"), io.Int.Input("b")]),
                   io.DynamicCombo.Option("none", [])]
        return io.Schema("Pick", inputs=[io.DynamicCombo.Input("mode", options=options)],
                         is_output_node=True)

    @classmethod
    def execute(cls, mode):
        return io.NodeOutput()


class Match(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        t = io.MatchType.Template("t", [io.Int, io.Float])
        return io.Schema("Match", inputs=[io.MatchType.Input("x", template=t)],
                         outputs=[io.MatchType.Output(template=t)])

    @classmethod
    def execute(cls, x):
        return io.NodeOutput(x)


class Sink(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("Sink", inputs=[io.Int.Input("v")], is_output_node=True)

    @classmethod
    def execute(cls, v):
        return io.NodeOutput()


def registry() -> NodeRegistry:
    reg = NodeRegistry()
    reg.register_v3_nodes([Const, Text, Grow, Pick, Match, Sink], "nodes")
    return reg


def errors_of(prompt: dict, node: str) -> list[dict]:
    v = validate_prompt(registry(), prompt)
    assert not v.ok
    return v.node_errors[node]["errors"]


def test_autogrow_entries_are_type_and_range_checked_by_their_own_name():
    prompt = {"1": {"class_type": "Text", "inputs": {"s": "x"}},
              "2": {"class_type": "Grow", "inputs": {"nums.n0": ["1", 0], "nums.n1": 11}}}
    errs = errors_of(prompt, "2")
    assert [(e["type"], e["extra_info"]["input_name"]) for e in errs] == [
        ("return_type_mismatch", "n0"), ("value_bigger_than_max", "n1")]
    assert errs[0]["details"] == "n0, received_type(STRING) mismatch input_type(INT)"


def test_autogrow_takes_what_is_present_and_converts_constants():
    v = validate_prompt(registry(), {"2": {"class_type": "Grow",
                                           "inputs": {"nums.n0": "3", "nums.n2": 4.0}}})
    assert v.ok and v.prompt["2"]["inputs"] == {"nums.n0": 3, "nums.n2": 4}


def test_dynamic_combo_checks_the_choice_and_the_chosen_options_inputs():
    base = {"1": {"class_type": "Pick", "inputs": {"mode": "one", "mode.value": 99}}}
    err = errors_of(base, "1")[0]
    assert err["type"] == "value_bigger_than_max" and err["details"] == "value"
    missing = errors_of({"1": {"class_type": "Pick", "inputs": {"mode": "two", "mode.a": 1}}}, "1")
    assert [(e["type"], e["details"]) for e in missing] == [("required_input_missing", "b")]
    wrong = errors_of({"1": {"class_type": "Pick", "inputs": {"mode": "three"}}}, "1")[0]
    assert wrong["type"] == "value_not_in_list"
    assert wrong["details"] == "mode: 'three' not in ['one', 'two', 'none']"
    absent = errors_of({"1": {"class_type": "Pick", "inputs": {}}}, "1")[0]
    assert absent["type"] == "required_input_missing" and absent["details"] == "mode"
    assert validate_prompt(registry(), {"1": {"class_type": "Pick", "inputs": {"mode": "none"}}}).ok
    # inputs of options not chosen are ignored, whatever they hold
    other = {"1": {"class_type": "Pick", "inputs": {"mode": "two", "mode.a": 1, "mode.b": 2,
                                                   "mode.value": "junk"}}}
    assert validate_prompt(registry(), other).ok


def test_matchtype_accepts_its_allowed_types_and_feeds_anything():
    ok = {"1": {"class_type": "Const", "inputs": {"v": 1}},
          "2": {"class_type": "Match", "inputs": {"x": ["1", 0]}},
          "3": {"class_type": "Sink", "inputs": {"v": ["2", 0]}}}
    assert validate_prompt(registry(), ok).ok
    bad = {"1": {"class_type": "Text", "inputs": {"s": "a"}},
           "2": {"class_type": "Match", "inputs": {"x": ["1", 0]}},
           "3": {"class_type": "Sink", "inputs": {"v": ["2", 0]}}}
    err = errors_of(bad, "2")[0]
    assert err["type"] == "return_type_mismatch"
    assert err["details"] == "x, received_type(STRING) mismatch input_type(INT,FLOAT)"
