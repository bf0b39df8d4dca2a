"""Per-node input checks of validation (COMPAT 4.1 step 4). Errors are returned as
ComfyUI-shaped dicts; constants are converted into the caller's (copied) inputs dict.
Inputs nested in V3 dynamic inputs ("images.image0") are checked like any other; their
errors name the last part ("image0")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from comfy_core.graph.links import link_parts
from comfy_core.graph.types import MATCHTYPE, types_compatible
from comfy_core.registry.schema import InputDef, NodeSchema
from comfy_core.runtime.awaitables import resolve_awaitable

MAX_LISTED_CHOICES = 20
_CONVERTERS: dict[str, Callable[[Any], Any]] = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


def error(kind: str, message: str, details: str, **extra: Any) -> dict:
    """One error object in ComfyUI's shape."""
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


@dataclass(frozen=True)
class LinkTarget:
    """What a link points at, as far as validation can tell."""

    return_type: Any = None
    problem: str | None = None  # why the link is unusable, if it is


# (link value) -> LinkTarget; built by validate.py, which knows the whole prompt.
LinkResolver = Callable[[Any], LinkTarget]


def check_inputs(
    node_id: str, inputs: dict, schema: NodeSchema, defs: dict[str, InputDef], resolve: LinkResolver
) -> tuple[list[dict], dict[str, Any]]:
    """Check and convert every declared required/optional input of one node.
    Returns (errors, received link types by input name)."""
    errors: list[dict] = []
    received: dict[str, Any] = {}
    validate = schema.validate
    for name, d in defs.items():
        if d.category == "hidden":
            continue
        if name not in inputs:
            if d.category == "required":
                errors.append(error("required_input_missing", "Required input is missing",
                                    d.label, input_name=d.label))
            continue
        value = inputs[name]
        config = [d.type, d.options]
        if isinstance(value, list):
            err = _check_link(d, value, config, resolve, validate, received)
        else:
            err = _check_constant(d, value, config, inputs, validate)
        if err is not None:
            errors.append(err)
    return errors, received


def _check_link(d: InputDef, value: Any, config: list, resolve: LinkResolver, validate: Any,
                received: dict) -> dict | None:
    name = d.label
    target = resolve(value)
    if target.problem is not None:
        message = "Bad linked input, must be a length-2 list of [node_id, slot_index]"
        details = name if target.problem == "shape" else f"{name}: {target.problem}"
        return error("bad_linked_input", message, details, input_name=name,
                     input_config=config, received_value=value)
    received[d.name] = target.return_type
    if validate is not None and validate.wants_input_types:
        return None
    expected = d.options.get("template", {}).get("allowed_types", "*") if d.type == MATCHTYPE else d.type
    if not types_compatible(target.return_type, expected):
        details = f"{name}, received_type({target.return_type}) mismatch input_type({expected})"
        return error("return_type_mismatch", "Return type mismatch between linked nodes", details,
                     input_name=name, input_config=config, received_type=target.return_type,
                     linked_node=value)
    return None


def _top_name(d: InputDef) -> str:
    """The keyword a validate method receives this input under (nested ones: their root)."""
    return d.path[0] if d.path else d.name


def _check_constant(d: InputDef, value: Any, config: list, inputs: dict, validate: Any) -> dict | None:
    name = d.label
    if isinstance(value, dict) and "__value__" in value:
        value = value["__value__"]
        inputs[d.name] = value
    convert = _CONVERTERS.get(d.type) if isinstance(d.type, str) else None
    if convert is not None:
        try:
            value = convert(value)
        except Exception as exc:  # int("x"), int(inf), float([]) ...
            return error("invalid_input_type", f"Failed to convert an input value to a {d.type} value",
                         f"{name}, {value}, {exc}", input_name=name, input_config=config,
                         received_value=value, exception_message=str(exc))
        inputs[d.name] = value
    if validate is not None and validate.takes(_top_name(d)):
        return None
    try:
        return _check_range(name, value, d, config) or _check_choice(name, value, d, config)
    except TypeError as exc:  # a string compared with a numeric min, say
        return error("invalid_input_type", f"Failed to convert an input value to a {d.type} value",
                     f"{name}, {value}, {exc}", input_name=name, input_config=config,
                     received_value=value, exception_message=str(exc))


def _check_range(name: str, value: Any, d: InputDef, config: list) -> dict | None:
    low, high = d.options.get("min"), d.options.get("max")
    # `not value >= low` also rejects NaN, which compares false with everything.
    if low is not None and not value >= low:
        return error("value_smaller_than_min", f"Value {value} smaller than min of {low}", name,
                     input_name=name, input_config=config, received_value=value)
    if high is not None and not value <= high:
        return error("value_bigger_than_max", f"Value {value} bigger than max of {high}", name,
                     input_name=name, input_config=config, received_value=value)
    return None


def _check_choice(name: str, value: Any, d: InputDef, config: list) -> dict | None:
    choices = d.choices
    if choices is None:
        return None
    multi = d.options.get("multiselect") and isinstance(value, list)
    if all(v in choices for v in (value if multi else [value])):
        return None
    return _not_in_list(name, value, choices, config)


def _not_in_list(name: str, value: Any, choices: list, config: list) -> dict:
    if len(choices) > MAX_LISTED_CHOICES:
        listed, config = f"(list of length {len(choices)})", None
    else:
        listed = str(choices)
    return error("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {listed}",
                 input_name=name, input_config=config, received_value=value)


def check_custom(
    node_id: str, inputs: dict, schema: NodeSchema, defs: dict[str, InputDef],
    received: dict[str, Any], prompt: dict,
) -> list[dict]:
    """Call VALIDATE_INPUTS (V3: validate_inputs) with the constants it names (links
    arrive as None)."""
    sig = schema.validate
    if sig is None:
        return []
    hidden = {"UNIQUE_ID": node_id, "PROMPT": prompt}
    values: dict[str, Any] = {}
    for name, d in defs.items():
        if d.category == "hidden":
            values[name] = hidden.get(d.type) if isinstance(d.type, str) else inputs.get(name)
        elif name in inputs:
            value = inputs[name]
            values[name] = None if isinstance(value, list) and link_parts(value) is not None else value
    kwargs = {k: v for k, v in schema.shape_kwargs(values, defs).items() if sig.takes(k)}
    if schema.input_is_list:
        kwargs = {k: [v] for k, v in kwargs.items()}
    if sig.wants_input_types:
        kwargs["input_types"] = received
    result = resolve_awaitable(schema.method("validate", None, hidden)(**kwargs))
    if result is True:
        return []
    declared = [d.label for d in defs.values() if d.category != "hidden"]
    name = declared[-1] if declared else ""
    details = name if result is False else f"{name} - {result}"
    return [error("custom_validation_failed", "Custom validation failed for node", details,
                  input_name=name)]
