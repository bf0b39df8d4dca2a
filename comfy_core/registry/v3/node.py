"""`ComfyNode`, the base of V3 node classes, with the classic (V1) view of them.

A V3 node is a class with classmethods `define_schema()` and `execute(**inputs)` (sync or
async), and optionally `validate_inputs`, `fingerprint_inputs` (IS_CHANGED) and
`check_lazy_status`, which count only when the class overrides them. Code written for the
classic convention still reads such a class: RETURN_TYPES, CATEGORY, INPUT_TYPES(), FUNCTION
and the rest are derived from the schema, once per class.

Each execution runs on a throw-away subclass (`prepare_clone`) whose `hidden` holds that
run's hidden values, so `cls.hidden.unique_id` works inside `execute` and class attributes
a node sets there do not leak into the next run. Outside a run `cls.hidden` is None.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from comfy_core.registry.v3.schema import HiddenHolder, Schema

OPTIONAL_HOOKS = ("validate_inputs", "fingerprint_inputs", "check_lazy_status")


class classproperty:  # noqa: N801 - reads like `property`
    """A read-only attribute computed from the class (works on the class itself)."""

    def __init__(self, getter: Callable[[type], Any]) -> None:
        self.getter = getter

    def __get__(self, instance: Any, owner: type) -> Any:
        return self.getter(owner)


class NodeOutput:
    """What `execute` returns: output values, and optionally a UI dict (or ui object), a
    subgraph to expand into, or a message that blocks everything downstream."""

    def __init__(self, *args: Any, ui: Any = None, expand: dict | None = None,
                 block_execution: str | None = None) -> None:
        self.args = args
        self.ui = ui
        self.expand = expand
        self.block_execution = block_execution

    @property
    def result(self) -> tuple | None:
        return self.args if self.args else None

    def ui_dict(self) -> dict | None:
        """`ui` as a plain dict (ui helper objects render themselves with as_dict())."""
        render = getattr(self.ui, "as_dict", None)
        return render() if callable(render) and not isinstance(self.ui, dict) else self.ui

    @classmethod
    def from_dict(cls, data: dict) -> NodeOutput:
        """From a classic {"result", "ui", "expand"} return dict; a blocker as "result"
        becomes `block_execution` with its message."""
        result = data.get("result")
        if result is not None and not isinstance(result, (tuple, list)):
            return cls(block_execution=getattr(result, "message", None))
        return cls(*(result or ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index: int) -> Any:
        return self.args[index]

    def __repr__(self) -> str:
        return f"NodeOutput(args={self.args!r}, ui={self.ui!r}, expand={self.expand is not None})"


def overrides(cls: type, name: str) -> bool:
    """Whether `cls` defines `name` itself or below ComfyNode (not the base default)."""
    for klass in cls.__mro__:
        if klass is ComfyNode:
            return False
        if name in klass.__dict__:
            return True
    return False


class ComfyNode:
    """Base class of V3 nodes (see the module docstring)."""

    RELATIVE_PYTHON_MODULE: str | None = None
    hidden: HiddenHolder | None = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError(f"{cls.__name__} defines no define_schema()")

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError(f"{cls.__name__} defines no execute()")

    @classmethod
    def validate_inputs(cls, **kwargs: Any) -> bool | str:
        """Optional: True, or a message saying what is wrong (classic VALIDATE_INPUTS)."""
        raise NotImplementedError

    @classmethod
    def fingerprint_inputs(cls, **kwargs: Any) -> Any:
        """Optional: a value that changes when the node must re-run (classic IS_CHANGED)."""
        raise NotImplementedError

    @classmethod
    def check_lazy_status(cls, **kwargs: Any) -> list[str]:
        """Optional: names of lazy inputs still needed (None values are not evaluated yet)."""
        return [name for name, value in kwargs.items() if value is None]

    def __init__(self) -> None:
        type(self).VALIDATE_CLASS()

    @classmethod
    def VALIDATE_CLASS(cls) -> None:  # noqa: N802 - ComfyUI's names below
        for name in ("define_schema", "execute"):
            if not overrides(cls, name):
                raise TypeError(f"V3 node class {cls.__name__} does not define {name}()")

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:
        """A fresh schema from define_schema(), finalized (combo lists are live)."""
        schema = cls.define_schema()
        if not isinstance(schema, Schema):
            raise TypeError(f"{cls.__name__}.define_schema() returned {type(schema).__name__}, "
                            "expected io.Schema")
        return schema.finalize()

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        """Validated schema; also fills the cached classic view on first use."""
        cls.VALIDATE_CLASS()
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        if "_V1_VIEW" not in cls.__dict__:
            cls._V1_VIEW = _classic_view(schema)
        cls.SCHEMA = schema
        return schema

    @classmethod
    def _view(cls, key: str) -> Any:
        view = cls.__dict__.get("_V1_VIEW")
        if view is None:
            cls.GET_SCHEMA()
            view = cls.__dict__["_V1_VIEW"]
        return view[key]

    @classmethod
    def INPUT_TYPES(cls, include_hidden: bool = True, **_: Any) -> dict:
        return cls.FINALIZE_SCHEMA().v1_inputs(include_hidden)

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict:
        return cls.GET_SCHEMA().node_info(cls.RELATIVE_PYTHON_MODULE or "nodes")

    FUNCTION = classproperty(lambda cls: "EXECUTE_NORMALIZED_ASYNC"
                             if inspect.iscoroutinefunction(cls.execute) else "EXECUTE_NORMALIZED")
    RETURN_TYPES = classproperty(lambda cls: cls._view("RETURN_TYPES"))
    RETURN_NAMES = classproperty(lambda cls: cls._view("RETURN_NAMES"))
    OUTPUT_IS_LIST = classproperty(lambda cls: cls._view("OUTPUT_IS_LIST"))
    OUTPUT_TOOLTIPS = classproperty(lambda cls: cls._view("OUTPUT_TOOLTIPS"))
    CATEGORY = classproperty(lambda cls: cls._view("CATEGORY"))
    DESCRIPTION = classproperty(lambda cls: cls._view("DESCRIPTION"))
    OUTPUT_NODE = classproperty(lambda cls: cls._view("OUTPUT_NODE"))
    INPUT_IS_LIST = classproperty(lambda cls: cls._view("INPUT_IS_LIST"))
    DEPRECATED = classproperty(lambda cls: cls._view("DEPRECATED"))
    EXPERIMENTAL = classproperty(lambda cls: cls._view("EXPERIMENTAL"))
    API_NODE = classproperty(lambda cls: cls._view("API_NODE"))
    NOT_IDEMPOTENT = classproperty(lambda cls: cls._view("NOT_IDEMPOTENT"))
    ENABLE_EXPAND = classproperty(lambda cls: cls._view("ENABLE_EXPAND"))

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._normalize(cls.execute(*args, **kwargs))

    @classmethod
    async def EXECUTE_NORMALIZED_ASYNC(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._normalize(await cls.execute(*args, **kwargs))

    @classmethod
    def _normalize(cls, value: Any) -> Any:
        """None, a tuple, a classic dict or a NodeOutput -> NodeOutput; anything else (an
        execution blocker, a dict whose result is one, or a mistake) is left for the
        executor to judge."""
        if value is None:
            value = NodeOutput()
        elif isinstance(value, tuple):
            value = NodeOutput(*value)
        elif isinstance(value, dict) and isinstance(value.get("result", ()), (tuple, list)):
            value = NodeOutput.from_dict(value)
        if isinstance(value, NodeOutput) and value.expand is not None and not cls.ENABLE_EXPAND:
            raise ValueError(f"node {cls.__name__} returned a subgraph to expand, but its schema "
                             "does not set enable_expand=True")
        return value

    @classmethod
    def PREPARE_CLASS_CLONE(cls, hidden: Any = None) -> type:
        """A throw-away subclass for one execution with `hidden` filled in."""
        holder = hidden if isinstance(hidden, HiddenHolder) else HiddenHolder.from_dict(hidden)
        return type(cls.__name__, (cls,), {"hidden": holder, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__,
                                           "_V1_VIEW": cls._v1_view()})

    @classmethod
    def _v1_view(cls) -> dict:
        cls._view("CATEGORY")
        return cls.__dict__["_V1_VIEW"]


def _classic_view(schema: Schema) -> dict:
    out = schema.output_view()
    return {"RETURN_TYPES": out["types"], "RETURN_NAMES": out["names"],
            "OUTPUT_IS_LIST": out["is_list"], "OUTPUT_TOOLTIPS": out["tooltips"],
            "CATEGORY": schema.category, "DESCRIPTION": schema.description,
            "OUTPUT_NODE": schema.is_output_node, "INPUT_IS_LIST": schema.is_input_list,
            "DEPRECATED": schema.is_deprecated, "EXPERIMENTAL": schema.is_experimental,
            "API_NODE": schema.is_api_node, "NOT_IDEMPOTENT": schema.not_idempotent,
            "ENABLE_EXPAND": schema.enable_expand}


class ComfyExtension:
    """What a plugin's `comfy_entrypoint()` returns: its node classes, asynchronously."""

    async def on_load(self) -> None:
        """Never called (ComfyUI 0.8.0 does not call it either)."""

    async def get_node_list(self) -> list[type[ComfyNode]]:
        raise NotImplementedError(f"{type(self).__name__} defines no get_node_list()")


def is_v3_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, ComfyNode)


__all__ = ["ComfyExtension", "ComfyNode", "NodeOutput", "OPTIONAL_HOOKS", "classproperty",
           "is_v3_class", "overrides"]
