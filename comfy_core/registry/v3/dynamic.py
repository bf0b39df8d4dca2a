"""Inputs whose shape depends on the prompt: MultiType, MatchType, Autogrow, DynamicCombo.

/object_info shows each as one declaration (`COMFY_AUTOGROW_V3`, ...); the editor grows the
real sockets and widgets from it. A prompt then names them with dotted keys: Autogrow entry
`"<id>.<name>"` (`images.image0`), DynamicCombo choice `"<id>"` and its inputs
`"<id>.<input>"`. `flatten` turns the declarations plus a node's prompt inputs into the flat
list validation and execution work on, each with the path where `execute` finds the value
in its nested keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from comfy_core.registry.v3.base import ComfyTypeI, ComfyTypeIO, Input, Output, WidgetInput
from comfy_core.registry.v3.base import comfytype, copy_input, pruned
from comfy_core.registry.v3.sockets import AnyType

MAX_AUTOGROW_NAMES = 100


@dataclass(frozen=True)
class FlatInput:
    """One prompt input of a node: `key` as the prompt names it, `spec` as (TYPE, options),
    `path` where execute() receives it (None: a top-level keyword argument)."""

    key: str
    section: str  # "required" | "optional"
    spec: tuple
    path: tuple[str, ...] | None


def section_of(inp: Input) -> str:
    return "optional" if inp.optional else "required"


def flatten(inputs: Iterable[Input], live: Mapping[str, Any], prefix: tuple[str, ...] = (),
            section: str | None = None) -> list[FlatInput]:
    """The flat inputs of `inputs` for a node whose prompt inputs are `live`."""
    out: list[FlatInput] = []
    for inp in inputs:
        expand = getattr(inp, "flatten_into", None)
        if expand is not None:
            expand(out, live, prefix)
            continue
        path = prefix + (inp.id,)
        out.append(FlatInput(".".join(path), section or section_of(inp),
                             (inp.get_io_type(), inp.as_dict()), path if prefix else None))
    return out


def v1_input_dict(inputs: Iterable[Input]) -> dict:
    """{"required": {...}, "optional": {...}} in the classic shape ("required" always there)."""
    found: dict[str, dict] = {"required": {}}
    for inp in inputs:
        found.setdefault(section_of(inp), {})[inp.id] = (inp.get_io_type(), inp.as_dict())
    return found


def _type_names(types: Any) -> list[str]:
    items = types if isinstance(types, (list, tuple)) else [types]
    return [t.io_type for t in items]


@comfytype(io_type="COMFY_MULTITYPED_V3")
class MultiType(ComfyTypeI):
    """An input that accepts several types ("A,B"); given a widget input as `id`, that
    widget is shown with its options and its type listed first."""

    Type = Any

    class Input(Input):
        def __init__(self, id: str | Input, types: list, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
            self.input_override: Input | None = None
            if isinstance(id, Input):
                self.input_override = copy_input(id)
                optional = True if id.optional is True else optional
                tooltip = id.tooltip if id.tooltip is not None else tooltip
                display_name = id.display_name if id.display_name is not None else display_name
                lazy = id.lazy if id.lazy is not None else lazy
                if isinstance(self.input_override, WidgetInput):
                    self.input_override.widget_type = self.input_override.get_io_type()
                id = id.id
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link)
            self._io_types = list(types)

        def get_io_type(self) -> str:
            names = _type_names(self._io_types)
            if self.input_override is not None:
                names.insert(0, self.input_override.get_io_type())
            return ",".join(dict.fromkeys(names))

        def as_dict(self) -> dict:
            own = super().as_dict()
            return self.input_override.as_dict() | own if self.input_override is not None else own


@comfytype(io_type="COMFY_MATCHTYPE_V3")
class MatchType(ComfyTypeIO):
    """Inputs and outputs sharing one template take one concrete type, chosen in the editor
    by what gets linked; `allowed_types` limits it."""

    class Template:
        def __init__(self, template_id: str, allowed_types: Any = AnyType) -> None:
            for t in allowed_types if isinstance(allowed_types, (list, tuple)) else [allowed_types]:
                if not isinstance(getattr(t, "io_type", None), str):
                    raise ValueError(f"MatchType template {template_id!r}: allowed types must be "
                                     f"io types, got {t!r}")
            self.template_id = template_id
            self.allowed_types = allowed_types

        def as_dict(self) -> dict:
            return {"template_id": self.template_id,
                    "allowed_types": ",".join(_type_names(self.allowed_types))}

    class Input(Input):
        def __init__(self, id: str, template: MatchType.Template, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link)
            self.template = template

        def as_dict(self) -> dict:
            return super().as_dict() | {"template": self.template.as_dict()}

    class Output(Output):
        def __init__(self, template: MatchType.Template, id: str | None = None,
                     display_name: str | None = None, tooltip: str | None = None,
                     is_output_list: bool = False) -> None:
            super().__init__(id, display_name, tooltip, is_output_list)
            self.template = template

        def as_dict(self) -> dict:
            return super().as_dict() | {"template": self.template.as_dict()}


class DynamicInput(Input):
    """Base of inputs that stand for a varying set of inputs."""


@comfytype(io_type="COMFY_AUTOGROW_V3")
class Autogrow(ComfyTypeI):
    """A socket that grows: the editor adds a copy of the template input each time the
    last one is linked. `execute` receives `<id>={name: value}` for those present."""

    Type = dict

    class _Template:
        def __init__(self, input: Input) -> None:
            if isinstance(input, DynamicInput):
                raise ValueError("an Autogrow template cannot be a dynamic input")
            self.input = copy_input(input)
            if isinstance(self.input, WidgetInput):
                self.input.force_input = True
            self.names: list[str] = []
            self.min = 1

        def as_dict(self) -> dict:
            return {"input": v1_input_dict([self.input])}

        def inputs(self) -> list[Input]:
            return [copy_input(self.input, id=name) for name in self.names]

    class TemplatePrefix(_Template):
        """Entries named prefix0, prefix1, ... up to `max`."""

        def __init__(self, input: Input, prefix: str, min: int = 1, max: int = 10) -> None:
            super().__init__(input)
            if not 0 <= min or not 1 <= max <= MAX_AUTOGROW_NAMES:
                raise ValueError(f"Autogrow prefix {prefix!r}: need 0 <= min and 1 <= max <= "
                                 f"{MAX_AUTOGROW_NAMES}, got min={min}, max={max}")
            self.prefix, self.min, self.max = prefix, min, max
            self.names = [f"{prefix}{i}" for i in range(max)]

        def as_dict(self) -> dict:
            return super().as_dict() | {"prefix": self.prefix, "min": self.min, "max": self.max}

    class TemplateNames(_Template):
        """Entries with the given names, in order."""

        def __init__(self, input: Input, names: list[str], min: int = 1) -> None:
            super().__init__(input)
            if min < 0:
                raise ValueError(f"Autogrow names: min must be >= 0, got {min}")
            self.names = list(names)[:MAX_AUTOGROW_NAMES]
            self.min = min

        def as_dict(self) -> dict:
            return super().as_dict() | {"names": self.names, "min": self.min}

    class Input(DynamicInput):
        def __init__(self, id: str, template: Autogrow._Template, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self.template = template

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({"template": self.template.as_dict()})

        def get_all(self) -> list[Input]:
            return [self] + self.template.inputs()

        def flatten_into(self, out: list[FlatInput], live: Mapping, prefix: tuple) -> None:
            """Entries present in the prompt; the first `min` are required."""
            base = prefix + (self.id,)
            for i, inp in enumerate(self.template.inputs()):
                if ".".join(base + (inp.id,)) in live:
                    section = "required" if i < self.template.min else "optional"
                    out.extend(flatten([inp], live, base, section))


@comfytype(io_type="COMFY_DYNAMICCOMBO_V3")
class DynamicCombo(ComfyTypeI):
    """A combo whose choice brings its own inputs; `execute` receives
    `<id>={"<id>": choice, "<input>": value, ...}`."""

    Type = dict

    class Option:
        def __init__(self, key: str, inputs: list[Input]) -> None:
            self.key = key
            self.inputs = list(inputs)

        def as_dict(self) -> dict:
            return {"key": self.key, "inputs": v1_input_dict(self.inputs)}

    class Input(DynamicInput):
        def __init__(self, id: str, options: list[DynamicCombo.Option],
                     display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self.options = list(options)

        def as_dict(self) -> dict:
            return super().as_dict() | {"options": [o.as_dict() for o in self.options]}

        def get_all(self) -> list[Input]:
            return [self] + [inp for option in self.options for inp in option.inputs]

        def flatten_into(self, out: list[FlatInput], live: Mapping, prefix: tuple) -> None:
            """The choice itself (checked as a combo of the option keys), then the inputs
            of the chosen option."""
            base = prefix + (self.id,)
            key = ".".join(base)
            keys = [o.key for o in self.options]
            out.append(FlatInput(key, section_of(self), ("COMBO", {"options": keys}),
                                 base + (self.id,)))
            chosen = live.get(key)
            for option in self.options:
                if isinstance(chosen, str) and option.key == chosen:
                    out.extend(flatten(option.inputs, live, base))


def check_unique_ids(inputs: list[Input], outputs: list[Output]) -> None:
    """ValueError when input ids or output ids repeat (nested inputs of dynamic ones
    included). An input and an output may share an id: packs name an output like the
    input it passes on ("positive" in, "positive" out), and nothing keys them together."""
    input_ids = [i.id for inp in inputs if not isinstance(inp, DynamicInput) for i in inp.get_all()]
    input_ids += [inp.id for inp in inputs if isinstance(inp, DynamicInput)]
    output_ids = [o.id for o in outputs]
    problems = []
    for label, ids in (("Input", input_ids), ("Output", output_ids)):
        repeated = sorted({i for i in ids if ids.count(i) > 1}, key=str)
        if repeated:
            problems.append(f"{label} ids must be unique, but {repeated} are not.")
    if problems:
        raise ValueError("\n".join(problems))


__all__ = ["Autogrow", "DynamicCombo", "DynamicInput", "FlatInput", "MatchType", "MultiType",
           "check_unique_ids", "flatten", "v1_input_dict"]
