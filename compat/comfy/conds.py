"""`comfy.conds`: ComfyUI's per-input cond wrappers (`CONDRegular`, `CONDNoiseShape`,
`CONDCrossAttn`, `CONDConstant`, `CONDList`) that its model code batches. This server
batches conditioning itself (`comfy_core.sampling.cond_batch`) and never builds them; the
names exist for packs that import the module, and building one raises an error saying so."""

from comfy._unsupported import unsupported_class

_WHAT = "a ComfyUI model-cond wrapper (this server batches conditioning itself)"
CONDRegular = unsupported_class("CONDRegular", _WHAT, __name__)
CONDNoiseShape = unsupported_class("CONDNoiseShape", _WHAT, __name__)
CONDCrossAttn = unsupported_class("CONDCrossAttn", _WHAT, __name__)
CONDConstant = unsupported_class("CONDConstant", _WHAT, __name__)
CONDList = unsupported_class("CONDList", _WHAT, __name__)
