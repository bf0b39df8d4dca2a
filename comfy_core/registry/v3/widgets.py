"""Widget types of the V3 schema: BOOLEAN, INT, FLOAT, STRING and the combos.

Each Input's options come out in ComfyUI's order: the common ones (display_name, tooltip,
lazy, rawLink), then the widget ones (default, socketless, widgetType, forceInput), then the
type's own. Enum members become their values.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from comfy_core.registry.v3.base import (
    ComfyTypeI,
    ComfyTypeIO,
    FolderType,
    NumberDisplay,
    Output,
    RemoteOptions,
    UploadType,
    WidgetInput,
    comfytype,
    enum_value,
    pruned,
)


@comfytype(io_type="BOOLEAN")
class Boolean(ComfyTypeIO):
    Type = bool

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None,
                     default: bool | None = None, label_on: str | None = None,
                     label_off: str | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict | None = None,
                     raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None,
                             force_input, extra_dict, raw_link)
            self.label_on = label_on
            self.label_off = label_off

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({"label_on": self.label_on, "label_off": self.label_off})


@comfytype(io_type="INT")
class Int(ComfyTypeIO):
    Type = int

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: int | None = None,
                     min: int | None = None, max: int | None = None, step: int | None = None,
                     control_after_generate: bool | str | None = None,
                     display_mode: NumberDisplay | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict | None = None,
                     raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None,
                             force_input, extra_dict, raw_link)
            self.min, self.max, self.step = min, max, step
            self.control_after_generate = control_after_generate
            self.display_mode = display_mode

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({
                "min": self.min, "max": self.max, "step": self.step,
                "control_after_generate": self.control_after_generate,
                "display": enum_value(self.display_mode)})


@comfytype(io_type="FLOAT")
class Float(ComfyTypeIO):
    Type = float

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None,
                     default: float | None = None, min: float | None = None,
                     max: float | None = None, step: float | None = None,
                     round: float | bool | None = None, display_mode: NumberDisplay | None = None,
                     socketless: bool | None = None, force_input: bool | None = None,
                     extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None,
                             force_input, extra_dict, raw_link)
            self.min, self.max, self.step, self.round = min, max, step, round
            self.display_mode = display_mode

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({
                "min": self.min, "max": self.max, "step": self.step, "round": self.round,
                "display": enum_value(self.display_mode)})


@comfytype(io_type="STRING")
class String(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, multiline: bool = False,
                     placeholder: str | None = None, default: str | None = None,
                     dynamic_prompts: bool | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict | None = None,
                     raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None,
                             force_input, extra_dict, raw_link)
            self.multiline = multiline
            self.placeholder = placeholder
            self.dynamic_prompts = dynamic_prompts

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({"multiline": self.multiline,
                                               "placeholder": self.placeholder,
                                               "dynamicPrompts": self.dynamic_prompts})


def _choices(options: Any) -> Any:
    """A list of choices, or an Enum class read as the list of its values."""
    if isinstance(options, type) and issubclass(options, Enum):
        return [member.value for member in options]
    return options


@comfytype(io_type="COMBO")
class Combo(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        """A drop-down of `options` (strings or numbers, or an Enum class)."""

        def __init__(self, id: str, options: Any = None, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     default: Any = None, control_after_generate: bool | str | None = None,
                     upload: UploadType | None = None, image_folder: FolderType | None = None,
                     remote: RemoteOptions | None = None, socketless: bool | None = None,
                     extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, enum_value(default),
                             socketless, None, None, extra_dict, raw_link)
            self.multiselect = False
            self.options = _choices(options)
            self.control_after_generate = control_after_generate
            self.upload = upload
            self.image_folder = image_folder
            self.remote = remote

        def as_dict(self) -> dict:
            upload = {enum_value(self.upload): True} if self.upload is not None else {}
            return super().as_dict() | pruned({
                "multiselect": self.multiselect, "options": self.options,
                "control_after_generate": self.control_after_generate, **upload,
                "image_folder": enum_value(self.image_folder),
                "remote": self.remote.as_dict() if self.remote is not None else None})

    class Output(Output):
        def __init__(self, id: str | None = None, display_name: str | None = None,
                     options: list | None = None, tooltip: str | None = None,
                     is_output_list: bool = False) -> None:
            super().__init__(id, display_name, tooltip, is_output_list)
            self.options = options if options is not None else []


@comfytype(io_type="COMBO")
class MultiCombo(ComfyTypeI):
    """A combo where several choices may be picked (the value is a list)."""

    Type = list

    class Input(Combo.Input):
        def __init__(self, id: str, options: Any, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     default: list | None = None, placeholder: str | None = None,
                     chip: bool | None = None, control_after_generate: bool | None = None,
                     socketless: bool | None = None, extra_dict: dict | None = None,
                     raw_link: bool | None = None) -> None:
            super().__init__(id, options, display_name, optional, tooltip, lazy, None,
                             control_after_generate, socketless=socketless,
                             extra_dict=extra_dict, raw_link=raw_link)
            self.default = default
            self.multiselect = True
            self.placeholder = placeholder
            self.chip = chip

        def as_dict(self) -> dict:
            return super().as_dict() | pruned({"multi_select": self.multiselect,
                                               "placeholder": self.placeholder, "chip": self.chip})


@comfytype(io_type="WEBCAM")
class Webcam(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None,
                     default: str | None = None, socketless: bool | None = None,
                     extra_dict: dict | None = None, raw_link: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None,
                             None, extra_dict, raw_link)
