"""The `io` namespace of the V3 node API: everything a node definition names as `io.X`.

Built-in nodes write `from comfy_core.registry.v3 import io`; plugins get the same module
as `comfy_api.latest.io`.
"""

from comfy_core.registry.v3.base import (
    ComfyType,
    ComfyTypeI,
    ComfyTypeIO,
    Custom,
    FolderType,
    Input,
    NumberDisplay,
    Output,
    RemoteOptions,
    UploadType,
    WidgetInput,
    comfytype,
)
from comfy_core.registry.v3.dynamic import Autogrow, DynamicCombo, DynamicInput, MatchType, MultiType
from comfy_core.registry.v3.node import ComfyNode, NodeOutput
from comfy_core.registry.v3.schema import Hidden, HiddenHolder, Schema
from comfy_core.registry.v3.sockets import *  # noqa: F403 - the socket type classes
from comfy_core.registry.v3.sockets import __all__ as _SOCKETS
from comfy_core.registry.v3.ui import UIOutput as _UIOutput
from comfy_core.registry.v3.widgets import Boolean, Combo, Float, Int, MultiCombo, String, Webcam

__all__ = [
    "FolderType", "UploadType", "RemoteOptions", "NumberDisplay",
    "comfytype", "Custom", "Input", "WidgetInput", "Output", "ComfyType", "ComfyTypeI",
    "ComfyTypeIO", "Boolean", "Int", "Float", "String", "Combo", "MultiCombo", "Webcam",
    *_SOCKETS,
    "MultiType", "MatchType", "Autogrow", "DynamicCombo", "DynamicInput",
    "Hidden", "HiddenHolder", "Schema", "ComfyNode", "NodeOutput", "_UIOutput",
]
