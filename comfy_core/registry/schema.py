"""NodeSchema: a node class read once into a frozen record.

The class attributes (RETURN_TYPES, FUNCTION, OUTPUT_NODE, ...) are read once at
registration; `INPUT_TYPES()` stays live because combo lists (model files) change while the
server runs, so `input_types()` calls it each time and `input_defs()` parses that result.
How the engine calls the node's methods is the schema's `calls` (`ClassicCalls` here for
the classic convention; `comfy_core.registry.v3.binding` for V3 classes).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

HIDDEN_KINDS = frozenset(
    {"PROMPT", "DYNPROMPT", "EXTRA_PNGINFO", "UNIQUE_ID", "AUTH_TOKEN_COMFY_ORG", "API_KEY_COMFY_ORG"}
)
INPUT_CATEGORIES = ("required", "optional", "hidden")


class SchemaError(ValueError):
    """A node class does not follow the classic convention closely enough to be used."""


@dataclass(frozen=True)
class InputDef:
    """One declared input. `type` is a type string, or a list of choices (legacy combo).
    `path` is set for inputs nested in a V3 dynamic input ("images.image0" arrives as
    images={"image0": ...}); None means a top-level keyword argument."""

    name: str
    category: str  # "required" | "optional" | "hidden"
    type: Any
    options: dict
    path: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """The name errors show: the last part of a dotted (nested) input name."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_combo(self) -> bool:
        return isinstance(self.type, (list, tuple)) or self.type == "COMBO"

    @property
    def choices(self) -> list | None:
        if isinstance(self.type, (list, tuple)):
            return list(self.type)
        if self.type == "COMBO":
            return list(self.options.get("options", []))
        return None

    @property
    def lazy(self) -> bool:
        return bool(self.options.get("lazy", False))

    @property
    def raw_link(self) -> bool:
        return bool(self.options.get("rawLink", False))


def parse_input_types(raw: Any) -> dict[str, InputDef]:
    """Parse an INPUT_TYPES() result into {name: InputDef}; required inputs first."""
    if not isinstance(raw, dict):
        raise SchemaError(f"INPUT_TYPES() must return a dict, got {type(raw).__name__}")
    defs: dict[str, InputDef] = {}
    for category in INPUT_CATEGORIES:
        section = raw.get(category) or {}
        if not isinstance(section, dict):
            raise SchemaError(f"INPUT_TYPES()[{category!r}] must be a dict")
        for name, spec in section.items():
            if name in defs:
                continue
            defs[name] = _parse_spec(name, category, spec)
    return defs


def _parse_spec(name: str, category: str, spec: Any) -> InputDef:
    if category == "hidden":
        kind = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
        return InputDef(name, category, kind, {})
    if isinstance(spec, (list, tuple)) and spec:
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        return InputDef(name, category, spec[0], options)
    if isinstance(spec, str):
        return InputDef(name, category, spec, {})
    raise SchemaError(f"input {name!r}: expected (TYPE, options) tuple, got {spec!r}")


@dataclass(frozen=True)
class ValidateSignature:
    """Which arguments a VALIDATE_INPUTS classmethod wants."""

    arg_names: frozenset[str]
    has_kwargs: bool

    @property
    def wants_input_types(self) -> bool:
        return "input_types" in self.arg_names

    def takes(self, name: str) -> bool:
        return self.has_kwargs or name in self.arg_names


class ClassicCalls:
    """How the engine calls a classic node: IS_CHANGED and VALIDATE_INPUTS on the class,
    FUNCTION and check_lazy_status on the node's instance, keyword arguments as named."""

    HOOKS = {"is_changed": "IS_CHANGED", "validate": "VALIDATE_INPUTS",
             "lazy": "check_lazy_status"}

    def method(self, schema: NodeSchema, hook: str, obj: Any, hidden: dict) -> Any:
        """The callable for `hook` ("execute", "is_changed", "validate", "lazy")."""
        if hook == "execute":
            return getattr(obj, schema.function)
        owner = obj if hook == "lazy" else schema.cls
        return getattr(owner, self.HOOKS[hook])

    def shape(self, kwargs: dict, defs: dict[str, InputDef], *, lazy: bool = False) -> dict:
        return kwargs

    def input_defs(self, schema: NodeSchema, live: dict | None) -> dict[str, InputDef]:
        raw = schema.input_types()
        defs = parse_input_types(raw)
        if schema.dynamic_inputs and live:
            defs.update(open_section_defs(raw, [n for n in live if n not in defs]))
        return defs


CLASSIC_CALLS = ClassicCalls()


def is_open_section(section: Any) -> bool:
    """A required/optional section that is a dict subclass answering `in` for names it
    does not list (plugins' "any input" nodes accept inputs the editor adds)."""
    return isinstance(section, dict) and type(section).__contains__ is not dict.__contains__


def open_section_defs(raw: dict, names: list[str]) -> dict[str, InputDef]:
    """InputDefs for prompt input `names` that an open section accepts (ComfyUI asks the
    section with `in` and reads the spec with `[]`)."""
    found: dict[str, InputDef] = {}
    for category in ("required", "optional"):
        section = raw.get(category)
        if not is_open_section(section):
            continue
        for name in names:
            if name not in found and name in section:
                try:
                    found[name] = _parse_spec(name, category, section[name])
                except (SchemaError, KeyError, TypeError):
                    continue
    return found


def _has_open_section(cls: type) -> bool:
    try:
        raw = cls.INPUT_TYPES()
    except Exception:  # reported when /object_info reads it
        return False
    return isinstance(raw, dict) and any(is_open_section(raw.get(c)) for c in ("required", "optional"))


@dataclass(frozen=True)
class NodeSchema:
    """Everything the engine needs from a node class, read once at registration."""

    name: str
    cls: type
    display_name: str
    python_module: str
    category: str
    description: str
    return_types: tuple
    return_names: tuple
    output_is_list: tuple[bool, ...]
    output_tooltips: tuple | None
    function: str
    output_node: bool
    input_is_list: bool
    not_idempotent: bool
    deprecated: bool
    experimental: bool
    api_node: bool | None
    has_is_changed: bool
    validate: ValidateSignature | None
    has_check_lazy_status: bool
    calls: Any = CLASSIC_CALLS  # ClassicCalls or the V3 binding's calls
    dynamic_inputs: bool = False  # input_defs depend on the node's prompt inputs
    is_v3: bool = False

    def input_types(self) -> dict:
        """The live INPUT_TYPES() result (combo lists may change between calls)."""
        return self.cls.INPUT_TYPES()

    def input_defs(self, live: dict | None = None) -> dict[str, InputDef]:
        """Declared inputs by prompt input name; `live` (the node's prompt inputs) decides
        which inputs a V3 dynamic input stands for."""
        return self.calls.input_defs(self, live)

    def method(self, hook: str, obj: Any = None, hidden: dict | None = None) -> Any:
        """The callable for "execute", "is_changed", "validate" or "lazy"; `hidden` holds
        the run's hidden values by kind ("PROMPT", "UNIQUE_ID", ...)."""
        return self.calls.method(self, hook, obj, hidden or {})

    def shape_kwargs(self, kwargs: dict, defs: dict[str, InputDef], *, lazy: bool = False) -> dict:
        """Keyword arguments as the node's methods take them (V3: nested dynamic inputs)."""
        return self.calls.shape(kwargs, defs, lazy=lazy)

    def takes_unique_id(self) -> bool:
        """Whether the node asks for its own id (then its id is part of its cache key)."""
        try:
            hidden = self.input_types().get("hidden") or {}
        except Exception:
            return False
        kinds = [v[0] if isinstance(v, (list, tuple)) and v else v for v in hidden.values()]
        return "UNIQUE_ID" in kinds


def signature_of(func: Any) -> ValidateSignature:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return ValidateSignature(frozenset(), True)
    names = frozenset(
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    return ValidateSignature(names, any(p.kind == p.VAR_KEYWORD for p in params))


def schema_from_class(
    name: str, cls: type, *, display_name: str | None = None, python_module: str = "nodes"
) -> NodeSchema:
    """Read a classic node class; raise SchemaError naming what is missing or wrong."""
    if not isinstance(cls, type):
        raise SchemaError(f"node {name!r}: expected a class, got {type(cls).__name__}")
    if not callable(getattr(cls, "INPUT_TYPES", None)):
        raise SchemaError(f"node {name!r}: class {cls.__name__} has no INPUT_TYPES classmethod")
    function = getattr(cls, "FUNCTION", None)
    if not isinstance(function, str) or not callable(getattr(cls, function, None)):
        raise SchemaError(f"node {name!r}: FUNCTION must name a method of {cls.__name__}")
    return_types = tuple(getattr(cls, "RETURN_TYPES", ()))
    names = getattr(cls, "RETURN_NAMES", None)
    is_list = getattr(cls, "OUTPUT_IS_LIST", None)
    tooltips = getattr(cls, "OUTPUT_TOOLTIPS", None)
    validate = getattr(cls, "VALIDATE_INPUTS", None)
    return NodeSchema(
        name=name,
        cls=cls,
        display_name=display_name or name,
        python_module=python_module,
        category=getattr(cls, "CATEGORY", "sd"),
        description=getattr(cls, "DESCRIPTION", ""),
        return_types=return_types,
        return_names=tuple(names) if names is not None else return_types,
        output_is_list=tuple(bool(x) for x in is_list) if is_list is not None else (False,) * len(return_types),
        output_tooltips=tuple(tooltips) if tooltips is not None else None,
        function=function,
        output_node=getattr(cls, "OUTPUT_NODE", False) is True,
        input_is_list=bool(getattr(cls, "INPUT_IS_LIST", False)),
        not_idempotent=bool(getattr(cls, "NOT_IDEMPOTENT", False)),
        deprecated=bool(getattr(cls, "DEPRECATED", False)),
        experimental=bool(getattr(cls, "EXPERIMENTAL", False)),
        api_node=getattr(cls, "API_NODE", None),
        has_is_changed=callable(getattr(cls, "IS_CHANGED", None)),
        validate=signature_of(validate) if callable(validate) else None,
        has_check_lazy_status=callable(getattr(cls, "check_lazy_status", None)),
        dynamic_inputs=_has_open_section(cls),
    )
