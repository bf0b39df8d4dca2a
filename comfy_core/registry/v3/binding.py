"""How the registry, validation and the executor read a V3 node class.

`schema_from_v3` reads the class once into a NodeSchema (its classic view); `V3Calls` is
that schema's `calls`: every method runs on a per-execution clone of the class with the
run's hidden values, keyword arguments of inputs nested in dynamic inputs are regrouped
into dicts, and the declared inputs of a node follow its prompt inputs (which Autogrow
entries are present, which DynamicCombo option is chosen).
"""

from __future__ import annotations

import inspect
from typing import Any

from comfy_core.registry.schema import InputDef, NodeSchema, SchemaError, signature_of
from comfy_core.registry.v3.dynamic import DynamicInput, flatten
from comfy_core.registry.v3.node import ComfyNode, overrides
from comfy_core.registry.v3.schema import Hidden, HiddenHolder

_HOOKS = {"execute": None, "is_changed": "fingerprint_inputs", "validate": "validate_inputs",
          "lazy": "check_lazy_status"}


def hidden_holder(hidden: dict) -> HiddenHolder:
    """`cls.hidden` from the run's hidden values keyed by classic kind ("UNIQUE_ID", ...)."""
    return HiddenHolder(**{h.name: hidden.get(h.value) for h in Hidden})


def nest(kwargs: dict, defs: dict[str, InputDef], *, tuples: bool = False) -> dict:
    """Move values of nested inputs ("images.image0") into dicts along their paths;
    `tuples` gives each moved value as (value, prompt input name) for check_lazy_status."""
    moved = [d for d in defs.values() if d.path is not None and d.name in kwargs]
    if not moved:
        return kwargs
    out = dict(kwargs)
    for d in moved:
        value = out.pop(d.name)
        node = out
        for part in d.path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[d.path[-1]] = (value, d.name) if tuples else value
    return out


class V3Calls:
    """The `calls` of a V3 node's NodeSchema (see the module docstring)."""

    def method(self, schema: NodeSchema, hook: str, obj: Any, hidden: dict) -> Any:
        clone = schema.cls.PREPARE_CLASS_CLONE(hidden_holder(hidden))
        return getattr(clone, _HOOKS[hook] or schema.function)

    def shape(self, kwargs: dict, defs: dict[str, InputDef], *, lazy: bool = False) -> dict:
        return nest(kwargs, defs, tuples=lazy)

    def input_defs(self, schema: NodeSchema, live: dict | None) -> dict[str, InputDef]:
        inputs = schema.cls.FINALIZE_SCHEMA().inputs
        defs: dict[str, InputDef] = {}
        for flat in flatten(inputs, live or {}):
            if flat.key not in defs:
                defs[flat.key] = InputDef(flat.key, flat.section, flat.spec[0], dict(flat.spec[1]),
                                          flat.path)
        return defs


V3_CALLS = V3Calls()


def schema_from_v3(name: str, cls: type[ComfyNode], *, display_name: str | None = None,
                   python_module: str = "nodes") -> NodeSchema:
    """Read a V3 class; SchemaError naming the problem when its schema is unusable."""
    try:
        schema = cls.GET_SCHEMA()
    except Exception as exc:
        raise SchemaError(f"node {name!r}: V3 class {cls.__name__}: {exc}") from exc
    view = schema.output_view()
    validate = signature_of(cls.validate_inputs) if overrides(cls, "validate_inputs") else None
    return NodeSchema(
        name=name,
        cls=cls,
        display_name=schema.display_name or display_name or name,
        python_module=python_module,
        category=schema.category,
        description=schema.description,
        return_types=tuple(view["types"]),
        return_names=tuple(view["names"]),
        output_is_list=tuple(view["is_list"]),
        output_tooltips=tuple(view["tooltips"]),
        function=("EXECUTE_NORMALIZED_ASYNC" if inspect.iscoroutinefunction(cls.execute)
                  else "EXECUTE_NORMALIZED"),
        output_node=bool(schema.is_output_node),
        input_is_list=bool(schema.is_input_list),
        not_idempotent=bool(schema.not_idempotent),
        deprecated=bool(schema.is_deprecated),
        experimental=bool(schema.is_experimental),
        api_node=bool(schema.is_api_node),
        has_is_changed=overrides(cls, "fingerprint_inputs"),
        validate=validate,
        has_check_lazy_status=overrides(cls, "check_lazy_status"),
        calls=V3_CALLS,
        dynamic_inputs=any(isinstance(i, DynamicInput) for i in schema.inputs),
        is_v3=True,
    )


def node_info_v3(schema: NodeSchema) -> dict:
    """The /object_info entry of a V3 node (define_schema() is called afresh)."""
    return schema.cls.FINALIZE_SCHEMA().node_info(schema.python_module)


__all__ = ["V3_CALLS", "hidden_holder", "nest", "node_info_v3",
           "schema_from_v3"]
