"""Utility nodes: the utils/string nodes, the logic nodes (Switch, Custom Combo) and
Preview as Text (ComfyUI's comfy_extras string, logic and preview-any modules)."""

from __future__ import annotations

import json

from comfy_core.registry.v3 import io
from comfy_core.text import strings

STRING = "comfy_extras.nodes_string"
LOGIC = "comfy_extras.nodes_logic"
PREVIEW_ANY = "comfy_extras.nodes_preview_any"


def _text(name: str) -> io.String.Input:
    return io.String.Input(name, multiline=True)


def _flags() -> list:
    return [io.Boolean.Input("case_insensitive", default=True),
            io.Boolean.Input("multiline", default=False), io.Boolean.Input("dotall", default=False)]


def _string_node(node_id: str, display_name: str, inputs: list, output=None,
                 **extra) -> io.Schema:
    return io.Schema(node_id=node_id, display_name=display_name, category="utils/string",
                     inputs=inputs, outputs=[output or io.String.Output()], **extra)


class StringConcatenate(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringConcatenate", "Concatenate", [
            _text("string_a"), _text("string_b"),
            io.String.Input("delimiter", multiline=False, default="")])

    @classmethod
    def execute(cls, string_a, string_b, delimiter):
        return io.NodeOutput(delimiter.join((string_a, string_b)))


class StringSubstring(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringSubstring", "Substring", [
            _text("string"), io.Int.Input("start"), io.Int.Input("end")])

    @classmethod
    def execute(cls, string, start, end):
        return io.NodeOutput(string[start:end])


class StringLength(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringLength", "Length", [_text("string")],
                            io.Int.Output(display_name="length"))

    @classmethod
    def execute(cls, string):
        return io.NodeOutput(len(string))


class CaseConverter(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("CaseConverter", "Case Converter", [
            _text("string"), io.Combo.Input("mode", options=list(strings.CASE_MODES))])

    @classmethod
    def execute(cls, string, mode):
        return io.NodeOutput(strings.convert_case(string, mode))


class StringTrim(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringTrim", "Trim", [
            _text("string"), io.Combo.Input("mode", options=list(strings.TRIM_MODES))])

    @classmethod
    def execute(cls, string, mode):
        return io.NodeOutput(strings.trim(string, mode))


class StringReplace(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringReplace", "Replace", [
            _text("string"), _text("find"), _text("replace")])

    @classmethod
    def execute(cls, string, find, replace):
        return io.NodeOutput(string.replace(find, replace))


class StringContains(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringContains", "Contains", [
            _text("string"), _text("substring"), io.Boolean.Input("case_sensitive", default=True)],
            io.Boolean.Output(display_name="contains"))

    @classmethod
    def execute(cls, string, substring, case_sensitive):
        return io.NodeOutput(strings.contains(string, substring, case_sensitive))


class StringCompare(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("StringCompare", "Compare", [
            _text("string_a"), _text("string_b"),
            io.Combo.Input("mode", options=list(strings.COMPARE_MODES)),
            io.Boolean.Input("case_sensitive", default=True)], io.Boolean.Output())

    @classmethod
    def execute(cls, string_a, string_b, mode, case_sensitive):
        return io.NodeOutput(strings.compare(string_a, string_b, mode, case_sensitive))


class RegexMatch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("RegexMatch", "Regex Match",
                            [_text("string"), _text("regex_pattern")] + _flags(),
                            io.Boolean.Output(display_name="matches"))

    @classmethod
    def execute(cls, string, regex_pattern, case_insensitive, multiline, dotall):
        return io.NodeOutput(strings.regex_match(string, regex_pattern, case_insensitive,
                                                 multiline, dotall))


class RegexExtract(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        return _string_node("RegexExtract", "Regex Extract", [
            _text("string"), _text("regex_pattern"),
            io.Combo.Input("mode", options=list(strings.EXTRACT_MODES))] + _flags() + [
            io.Int.Input("group_index", default=1, min=0, max=100)])

    @classmethod
    def execute(cls, string, regex_pattern, mode, case_insensitive, multiline, dotall,
                group_index):
        return io.NodeOutput(strings.regex_extract(string, regex_pattern, mode, case_insensitive,
                                                   multiline, dotall, group_index))


class RegexReplace(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = STRING

    @classmethod
    def define_schema(cls):
        optional = [
            io.Boolean.Input("case_insensitive", default=True, optional=True),
            io.Boolean.Input("multiline", default=False, optional=True),
            io.Boolean.Input("dotall", default=False, optional=True,
                             tooltip="Lets the dot (.) match newlines too."),
            io.Int.Input("count", default=0, min=0, max=100, optional=True,
                         tooltip="Most replacements to make; 0 replaces every match.")]
        return _string_node("RegexReplace", "Regex Replace",
                            [_text("string"), _text("regex_pattern"), _text("replace")] + optional,
                            description="Find and replace text with a regular expression.")

    @classmethod
    def execute(cls, string, regex_pattern, replace, case_insensitive=True, multiline=False,
                dotall=False, count=0):
        return io.NodeOutput(strings.regex_replace(string, regex_pattern, replace,
                                                   case_insensitive, multiline, dotall, count))


class ComfySwitchNode(io.ComfyNode):
    """Passes on_true or on_false on; only the chosen branch is computed (lazy inputs)."""

    RELATIVE_PYTHON_MODULE = LOGIC

    @classmethod
    def define_schema(cls):
        template = io.MatchType.Template("switch")
        return io.Schema(node_id="ComfySwitchNode", display_name="Switch", category="logic",
                         is_experimental=True, inputs=[
                             io.Boolean.Input("switch"),
                             io.MatchType.Input("on_false", template=template, lazy=True),
                             io.MatchType.Input("on_true", template=template, lazy=True)],
                         outputs=[io.MatchType.Output(template=template, display_name="output")])

    @classmethod
    def check_lazy_status(cls, switch, on_false=None, on_true=None):
        wanted, value = ("on_true", on_true) if switch else ("on_false", on_false)
        return [wanted] if value is None else []

    @classmethod
    def execute(cls, switch, on_true=None, on_false=None):
        return io.NodeOutput(on_true if switch else on_false)


class CustomCombo(io.ComfyNode):
    """A combo whose options the user types in the editor: any value is accepted."""

    RELATIVE_PYTHON_MODULE = LOGIC

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CustomCombo", display_name="Custom Combo", category="utils",
                         is_experimental=True, inputs=[io.Combo.Input("choice", options=[])],
                         outputs=[io.String.Output()])

    @classmethod
    def validate_inputs(cls, choice):
        return True  # the options live in the editor, not in the schema

    @classmethod
    def execute(cls, choice):
        return io.NodeOutput(choice)


def preview_text(value: object) -> str:
    """How Preview as Text shows a value: text as is, numbers and booleans with str(), other
    values as JSON when they serialise, else str()."""
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    if isinstance(value, (int, float, bool)):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        try:
            return str(value)
        except Exception:  # noqa: BLE001 - any value may come in; the node must not fail
            return "source exists, but could not be serialized."


class PreviewAny:
    """Output node that shows any input value as text on the node."""

    CATEGORY = "utils"
    RETURN_TYPES = ()
    FUNCTION = "main"
    OUTPUT_NODE = True
    RELATIVE_PYTHON_MODULE = PREVIEW_ANY

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"source": ("*", {})}}

    def main(self, source=None):
        return {"ui": {"text": (preview_text(source),)}}


NODES = (StringConcatenate, StringSubstring, StringLength, CaseConverter, StringTrim,
         StringReplace, StringContains, StringCompare, RegexMatch, RegexExtract, RegexReplace,
         ComfySwitchNode, CustomCombo)
NODE_CLASS_MAPPINGS = {cls.GET_SCHEMA().node_id: cls for cls in NODES}
NODE_CLASS_MAPPINGS["PreviewAny"] = PreviewAny
NODE_DISPLAY_NAME_MAPPINGS = {"PreviewAny": "Preview as Text"}
