"""`comfy.comfy_types.node_typing`: ComfyUI's typing helpers for classic node classes:
the `IO` socket-type names, `ComfyNodeABC`, `CheckLazyMixin` and the input-dict types."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, Literal, TypedDict


class IO(str, Enum):
    """Socket type names. `ANY` ("*") is unequal to nothing: it matches every type, as
    the editor treats it; multi-type names ("FLOAT,INT") compare by their parts."""

    STRING = "STRING"
    IMAGE = "IMAGE"
    MASK = "MASK"
    LATENT = "LATENT"
    BOOLEAN = "BOOLEAN"
    INT = "INT"
    FLOAT = "FLOAT"
    COMBO = "COMBO"
    CONDITIONING = "CONDITIONING"
    SAMPLER = "SAMPLER"
    SIGMAS = "SIGMAS"
    GUIDER = "GUIDER"
    NOISE = "NOISE"
    CLIP = "CLIP"
    CONTROL_NET = "CONTROL_NET"
    VAE = "VAE"
    MODEL = "MODEL"
    LORA_MODEL = "LORA_MODEL"
    LOSS_MAP = "LOSS_MAP"
    CLIP_VISION = "CLIP_VISION"
    CLIP_VISION_OUTPUT = "CLIP_VISION_OUTPUT"
    STYLE_MODEL = "STYLE_MODEL"
    GLIGEN = "GLIGEN"
    UPSCALE_MODEL = "UPSCALE_MODEL"
    LATENT_UPSCALE_MODEL = "LATENT_UPSCALE_MODEL"
    AUDIO = "AUDIO"
    AUDIO_ENCODER = "AUDIO_ENCODER"
    AUDIO_ENCODER_OUTPUT = "AUDIO_ENCODER_OUTPUT"
    VIDEO = "VIDEO"
    POINT = "POINT"
    FACE_ANALYSIS = "FACE_ANALYSIS"
    BBOX = "BBOX"
    SEGS = "SEGS"
    TIMESTEPS_RANGE = "TIMESTEPS_RANGE"
    LATENT_OPERATION = "LATENT_OPERATION"
    FLOW_CONTROL = "FLOW_CONTROL"
    ACCUMULATION = "ACCUMULATION"
    ANY = "*"
    NUMBER = "FLOAT,INT"
    PRIMITIVE = "STRING,FLOAT,INT,BOOLEAN"

    def __str__(self) -> str:
        return self.value

    def __ne__(self, other: object) -> bool:
        if self.value == "*" or other == "*":
            return False
        if not isinstance(other, str):
            return True
        return not set(self.value.split(",")) & set(str(other).split(","))

    __hash__ = str.__hash__


class InputTypeOptions(TypedDict, total=False):
    default: Any
    defaultInput: bool
    forceInput: bool
    lazy: bool
    rawLink: bool
    tooltip: str
    min: float
    max: float
    step: float
    round: float
    multiline: bool
    placeholder: str
    dynamicPrompts: bool
    image_upload: bool
    control_after_generate: bool


class HiddenInputTypeDict(TypedDict, total=False):
    node_id: Literal["UNIQUE_ID"]
    unique_id: Literal["UNIQUE_ID"]
    prompt: Literal["PROMPT"]
    extra_pnginfo: Literal["EXTRA_PNGINFO"]
    dynprompt: Literal["DYNPROMPT"]


class InputTypeDict(TypedDict, total=False):
    required: dict[str, tuple]
    optional: dict[str, tuple]
    hidden: HiddenInputTypeDict


class ComfyNodeABC(ABC):
    """Base for classic node classes (their ABI as class attributes)."""

    DESCRIPTION: str
    CATEGORY: str
    EXPERIMENTAL: bool
    DEPRECATED: bool

    @classmethod
    @abstractmethod
    def INPUT_TYPES(cls) -> InputTypeDict:  # noqa: N802 - ComfyUI's ABI name
        ...


class CheckLazyMixin:
    """`check_lazy_status`: every lazy input that is still None is needed."""

    def check_lazy_status(self, **kwargs: Any) -> list[str]:
        need = [name for name in kwargs if kwargs[name] is None]
        return need


class FileLocator(TypedDict):
    filename: str
    subfolder: str
    type: Literal["input", "output", "temp"]
