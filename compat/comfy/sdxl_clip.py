"""`comfy.sdxl_clip`: ComfyUI's SDXL text-encoder classes as isinstance targets
(`comfy._clip_kinds`): the base model's stage holds clip_l and clip_g, the refiner's
clip_g only."""

from comfy._clip_kinds import kind
from comfy_core.models.clip_value import ClipStage, EncoderSlot

SDXLClipG = kind("SDXLClipG", __name__, EncoderSlot, {"clip_g"})
SDXLClipModel = kind("SDXLClipModel", __name__, ClipStage, {"clip_l", "clip_g"})
SDXLRefinerClipModel = kind("SDXLRefinerClipModel", __name__, ClipStage, {"clip_g"})
