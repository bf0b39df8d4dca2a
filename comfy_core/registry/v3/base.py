"""The building blocks of the V3 node schema: types, inputs and outputs.

A *type* is a class carrying an `io_type` string ("INT", "IMAGE", ...) and nested `Input`
and `Output` classes bound to it, so `io.Int.Input("steps", default=20)` knows it declares
an INT. `comfytype(io_type)` binds a class that way; `Custom("T")` makes a fresh socket
type on the fly. Each input renders itself as the `(TYPE, options)` pair of the classic
INPUT_TYPES convention, with options in the order ComfyUI sends them (key order shows in
/object_info and in conformance comparisons).
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any


def pruned(options: dict) -> dict:
    """The options that are set (None means "not given" everywhere in the schema)."""
    return {k: v for k, v in options.items() if v is not None}


def enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


class FolderType(str, Enum):
    """Where a file lives, as /view's `type` parameter names it."""

    input = "input"
    output = "output"
    temp = "temp"


class UploadType(str, Enum):
    """Which upload widget a combo gets; the value is the option key the editor reads."""

    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


class NumberDisplay(str, Enum):
    number = "number"
    slider = "slider"


class RemoteOptions:
    """A combo whose choices the editor fetches from a server route."""

    def __init__(self, route: str, refresh_button: bool, control_after_refresh: str = "first",
                 timeout: int | None = None, max_retries: int | None = None,
                 refresh: int | None = None) -> None:
        self.route = route
        self.refresh_button = refresh_button
        self.control_after_refresh = control_after_refresh
        self.timeout = timeout
        self.max_retries = max_retries
        self.refresh = refresh

    def as_dict(self) -> dict:
        return pruned({"route": self.route, "refresh_button": self.refresh_button,
                       "control_after_refresh": self.control_after_refresh,
                       "timeout": self.timeout, "max_retries": self.max_retries,
                       "refresh": self.refresh})


class IOBase:
    """What inputs and outputs share: the type they were bound to (`Parent`)."""

    Parent: Any = None

    @property
    def io_type(self) -> str:
        return self.Parent.io_type

    @property
    def Type(self) -> Any:  # noqa: N802 - ComfyUI's name
        return self.Parent.Type

    def validate(self) -> None:
        """Raise ValueError when the declaration cannot work (dynamic inputs check more)."""


class Input(IOBase):
    """A socket input (a link from another node's output)."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                 tooltip: str | None = None, lazy: bool | None = None,
                 extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.lazy = lazy
        self.extra_dict = extra_dict if extra_dict is not None else {}
        self.rawLink = raw_link

    def as_dict(self) -> dict:
        """Options as /object_info sends them (without "optional": the section says it)."""
        return pruned({"display_name": self.display_name, "tooltip": self.tooltip,
                       "lazy": self.lazy, "rawLink": self.rawLink}) | pruned(self.extra_dict)

    def get_io_type(self) -> str:
        return self.io_type

    def get_all(self) -> list[Input]:
        """This input and every input nested in it (dynamic inputs have several)."""
        return [self]


class WidgetInput(Input):
    """An input the editor shows as a widget (a constant), unless it is linked."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                 tooltip: str | None = None, lazy: bool | None = None, default: Any = None,
                 socketless: bool | None = None, widget_type: str | None = None,
                 force_input: bool | None = None, extra_dict: dict | None = None,
                 raw_link: bool | None = None) -> None:
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link)
        self.default = default
        self.socketless = socketless
        self.widget_type = widget_type
        self.force_input = force_input

    def as_dict(self) -> dict:
        return super().as_dict() | pruned({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type,
                                           "forceInput": self.force_input})

    def get_io_type(self) -> str:
        return self.widget_type if self.widget_type is not None else self.io_type


class Output(IOBase):
    """One output socket; `id` names it for expansion results, `display_name` in the UI."""

    def __init__(self, id: str | None = None, display_name: str | None = None,
                 tooltip: str | None = None, is_output_list: bool = False) -> None:
        self.id = id
        self.display_name = display_name
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    def as_dict(self) -> dict:
        return pruned({"display_name": self.display_name, "tooltip": self.tooltip,
                       "is_output_list": self.is_output_list})

    def get_io_type(self) -> str:
        return self.io_type


class ComfyType:
    """Base of every type class; `comfytype` sets `io_type` and binds Input/Output."""

    Type: Any = Any
    io_type: str | None = None


class ComfyTypeI(ComfyType):
    """A type that only has inputs."""

    class Input(Input):
        pass


class ComfyTypeIO(ComfyTypeI):
    """A type with both inputs and outputs (every socket type)."""

    class Output(Output):
        pass


def _bind(inner: type, owner: type, attr: str) -> type:
    """A subclass of `inner` whose instances know their type is `owner`."""
    return type(inner.__name__, (inner,), {"Parent": owner, "__module__": owner.__module__,
                                            "__qualname__": f"{owner.__qualname__}.{attr}"})


def comfytype(io_type: str, **_: Any):
    """Class decorator: make the class a type named `io_type` with bound Input/Output."""

    def decorate(cls: type) -> type:
        if not issubclass(cls, ComfyType):
            body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
            cls = type(cls.__name__, (cls, ComfyTypeIO), body)
        cls.io_type = io_type
        for attr in ("Input", "Output"):
            inner = getattr(cls, attr, None)
            if isinstance(inner, type):
                setattr(cls, attr, _bind(inner, cls, attr))
        return cls

    return decorate


def Custom(io_type: str) -> type[ComfyTypeIO]:  # noqa: N802 - ComfyUI's name
    """A socket type named `io_type` that needs no class of its own."""

    @comfytype(io_type=io_type)
    class CustomType(ComfyTypeIO):
        pass

    return CustomType


def copy_input(inp: Input, **changes: Any) -> Input:
    """A shallow copy of an input with some attributes changed (templates use this)."""
    clone = copy.copy(inp)
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone
