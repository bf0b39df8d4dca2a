"""The V3 node declaration (`io.Schema`), hidden inputs, and the classic view of both.

`Schema` is what a node's `define_schema()` returns. `finalize()` fills in what ComfyUI
adds implicitly (hidden prompt/extra_pnginfo for output nodes, API keys for API nodes,
ids `_<i>_<TYPE>_` for unnamed outputs); `validate()` rejects repeated ids. `v1_inputs()`
and `node_info()` are the classic INPUT_TYPES and the /object_info entry of the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from comfy_core.registry.v3.base import Input, Output
from comfy_core.registry.v3.dynamic import MatchType, check_unique_ids, v1_input_dict


class Hidden(str, Enum):
    """Values the executor hands a node without a socket; the value is the classic name."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"


class HiddenHolder:
    """`cls.hidden` during one execution: the hidden values by member name; any other
    attribute reads None (plugins probe with getattr)."""

    def __init__(self, unique_id: Any = None, prompt: Any = None, extra_pnginfo: Any = None,
                 dynprompt: Any = None, auth_token_comfy_org: Any = None,
                 api_key_comfy_org: Any = None, **_: Any) -> None:
        self.unique_id = unique_id
        self.prompt = prompt
        self.extra_pnginfo = extra_pnginfo
        self.dynprompt = dynprompt
        self.auth_token_comfy_org = auth_token_comfy_org
        self.api_key_comfy_org = api_key_comfy_org

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    @classmethod
    def from_dict(cls, values: dict | None) -> HiddenHolder:
        """From {Hidden member or classic name: value}."""
        values = values or {}
        return cls(**{h.name: values.get(h, values.get(h.value)) for h in Hidden})


@dataclass
class Schema:
    """A V3 node's declaration (see the module docstring)."""

    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)
    description: str = ""
    search_aliases: list[str] = field(default_factory=list)  # accepted, not sent (newer API)
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def validate(self) -> None:
        """ValueError when ids repeat or a dynamic input is malformed."""
        check_unique_ids(self.inputs, self.outputs)
        for io in [*self.inputs, *self.outputs]:
            io.validate()

    def finalize(self) -> Schema:
        """Add the implicit hidden inputs and output ids (idempotent); returns self."""
        self.inputs = list(self.inputs or [])
        self.outputs = list(self.outputs or [])
        self.hidden = list(self.hidden or [])
        implied = []
        if self.is_api_node:
            implied += [Hidden.auth_token_comfy_org, Hidden.api_key_comfy_org]
        if self.is_output_node:
            implied += [Hidden.prompt, Hidden.extra_pnginfo]
        self.hidden += [h for h in implied if h not in self.hidden]
        for i, output in enumerate(self.outputs):
            if output.id is None:
                output.id = f"_{i}_{output.io_type}_"
        return self

    def v1_inputs(self, include_hidden: bool = True) -> dict:
        """The classic INPUT_TYPES() of the node (hidden as one-element tuples)."""
        inputs = v1_input_dict(self.inputs)
        if include_hidden and self.hidden:
            inputs["hidden"] = {Hidden(h).name: (Hidden(h).value,) for h in self.hidden}
        return inputs

    def output_view(self) -> dict[str, list]:
        """RETURN_TYPES, RETURN_NAMES, OUTPUT_IS_LIST, OUTPUT_TOOLTIPS and matchtypes."""
        view: dict[str, list] = {"types": [], "names": [], "is_list": [], "tooltips": [],
                                 "matchtypes": []}
        for o in self.outputs:
            view["types"].append(o.io_type)
            view["names"].append(o.display_name if o.display_name else o.io_type)
            view["is_list"].append(bool(o.is_output_list))
            view["tooltips"].append(o.tooltip if o.tooltip else None)
            view["matchtypes"].append(o.template.template_id if isinstance(o, MatchType.Output)
                                      else None)
        return view

    def node_info(self, python_module: str) -> dict:
        """The /object_info entry, keys in ComfyUI's order for newer-schema nodes."""
        inputs = self.v1_inputs()
        out = self.output_view()
        matchtypes = out["matchtypes"] if any(m is not None for m in out["matchtypes"]) else None
        return {
            "input": inputs,
            "input_order": {section: list(names) for section, names in inputs.items()},
            "output": out["types"],
            "output_is_list": out["is_list"],
            "output_name": out["names"],
            "output_tooltips": out["tooltips"],
            "output_matchtypes": matchtypes,
            "name": self.node_id,
            "display_name": self.display_name,
            "description": self.description,
            "python_module": python_module,
            "category": self.category,
            "output_node": self.is_output_node,
            "deprecated": self.is_deprecated,
            "experimental": self.is_experimental,
            "api_node": self.is_api_node,
        }


__all__ = ["Hidden", "HiddenHolder", "Schema"]
