"""`comfy.sd1_clip`: ComfyUI's SD1 text-encoder classes as isinstance targets
(`comfy._clip_kinds`); `clip.cond_stage_model.clip_l.encode_token_weights(chunks)` works
on our CLIP values."""

from comfy._clip_kinds import kind
from comfy_core.models.clip_value import ClipStage, EncoderSlot

SDClipModel = kind("SDClipModel", __name__, EncoderSlot, {"clip_l", "clip_h", "clip_g"})
SD1ClipModel = kind("SD1ClipModel", __name__, ClipStage, {"clip_l"})
