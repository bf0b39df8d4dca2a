"""Layer classes with ComfyUI's `comfy.ops` interface (COMPAT-PLUGINS 3.14), for plugins
that build their own networks from them or subclass them (GGUF's quantized layers), and
for loading a model with a plugin's `custom_operations` (`build_with_operations`).

Two namespaces of torch layer subclasses, nested as ComfyUI nests them because plugins
subclass the nested classes (`class Ops(manual_cast)` with `class Linear(MyLayer,
manual_cast.Linear)`):

- `disable_weight_init`: no random initialisation (weights come from a file), and a
  forward that casts weight and bias to the input's dtype and device
  (`forward_comfy_cast_weights`) when `comfy_cast_weights` is set or a
  `weight_function` / `bias_function` is registered; the plain torch forward otherwise.
- `manual_cast`: the same with `comfy_cast_weights = True` (stored dtype != compute dtype).

Our own networks do not use these classes: the memory manager casts and streams whole
layers (`memory.streaming`); these are the per-layer protocol plugins expect.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn


def cast_to(weight: torch.Tensor | None, dtype: torch.dtype | None = None, device: Any = None,
            non_blocking: bool = False, copy: bool = False, stream: Any = None) -> torch.Tensor | None:
    """`weight` on `device` in `dtype` (None keeps each); the same tensor when nothing changes
    and no copy is asked for."""
    if weight is None:
        return None
    if device is None or weight.device == torch.device(device):
        if not copy and (dtype is None or weight.dtype == dtype):
            return weight
        return weight.to(dtype=dtype, copy=copy)
    return weight.to(device=device, dtype=dtype, non_blocking=non_blocking, copy=copy)


def _apply(functions: list[Callable[[torch.Tensor], torch.Tensor]], tensor: torch.Tensor) -> torch.Tensor:
    for fn in functions:
        tensor = fn(tensor)
    return tensor


def cast_bias_weight(s: nn.Module, input: torch.Tensor | None = None, dtype: torch.dtype | None = None,
                     device: Any = None, bias_dtype: torch.dtype | None = None,
                     offloadable: bool = False) -> tuple:
    """(weight, bias) of layer `s` in the input's dtype and device (or the ones given), with
    the layer's `weight_function` / `bias_function` applied; `offloadable=True` adds a third
    item, the offload handle (always None here: copies are synchronous)."""
    if input is not None:
        dtype = input.dtype if dtype is None else dtype
        bias_dtype = dtype if bias_dtype is None else bias_dtype
        device = input.device if device is None else device
    bias = None
    if getattr(s, "bias", None) is not None:
        bias = _apply(list(s.bias_function), cast_to(s.bias, bias_dtype, device, copy=bool(s.bias_function)))
    weight = _apply(list(s.weight_function), cast_to(s.weight, dtype, device, copy=bool(s.weight_function)))
    return (weight, bias, None) if offloadable else (weight, bias)


def uncast_bias_weight(s: nn.Module, weight: Any, bias: Any, offload_stream: Any) -> None:
    """Counterpart of an offloadable `cast_bias_weight` (nothing to release here)."""
    return None


class CastWeightBiasOp:
    """What every op layer carries: whether it casts, and per-forward weight/bias functions."""

    comfy_cast_weights = False
    weight_function: list = []
    bias_function: list = []

    def _casts(self) -> bool:
        return self.comfy_cast_weights or len(self.weight_function) > 0 or len(self.bias_function) > 0


def _no_init(self: nn.Module) -> None:
    """Weights come from a file: skip torch's random initialisation."""
    return None


def _cast_or_plain(plain: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A layer's `forward`: the casting path when the layer casts (or carries weight
    functions), else torch's own `plain` forward."""
    def forward(self: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self._casts():
            return self.forward_comfy_cast_weights(*args, **kwargs)
        return plain(self, *args, **kwargs)
    return forward


class disable_weight_init:  # noqa: N801 - ComfyUI's name, a namespace plugins subclass
    """Torch layers without random initialisation, casting only when asked to."""

    class Linear(nn.Linear, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input)
            return F.linear(input, weight, bias)

        forward = _cast_or_plain(nn.Linear.forward)

    class Conv1d(nn.Conv1d, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input)
            return self._conv_forward(input, weight, bias)

        forward = _cast_or_plain(nn.Conv1d.forward)

    class Conv2d(nn.Conv2d, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input)
            return self._conv_forward(input, weight, bias)

        forward = _cast_or_plain(nn.Conv2d.forward)

    class Conv3d(nn.Conv3d, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input)
            return self._conv_forward(input, weight, bias)

        forward = _cast_or_plain(nn.Conv3d.forward)

    class GroupNorm(nn.GroupNorm, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input)
            return F.group_norm(input, self.num_groups, weight, bias, self.eps)

        forward = _cast_or_plain(nn.GroupNorm.forward)

    class LayerNorm(nn.LayerNorm, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight, bias = cast_bias_weight(self, input) if self.weight is not None else (None, None)
            return F.layer_norm(input, self.normalized_shape, weight, bias, self.eps)

        forward = _cast_or_plain(nn.LayerNorm.forward)

    class RMSNorm(nn.RMSNorm, CastWeightBiasOp):
        reset_parameters = _no_init
        bias = None

        def forward_comfy_cast_weights(self, input: torch.Tensor) -> torch.Tensor:
            weight = cast_bias_weight(self, input)[0] if self.weight is not None else None
            return F.rms_norm(input, self.normalized_shape, weight, self.eps)

        forward = _cast_or_plain(nn.RMSNorm.forward)

    class ConvTranspose1d(nn.ConvTranspose1d, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor, output_size: Any = None) -> torch.Tensor:
            padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, 1,
                                           self.dilation)
            weight, bias = cast_bias_weight(self, input)
            return F.conv_transpose1d(input, weight, bias, self.stride, self.padding, padding, self.groups,
                                      self.dilation)

        forward = _cast_or_plain(nn.ConvTranspose1d.forward)

    class ConvTranspose2d(nn.ConvTranspose2d, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor, output_size: Any = None) -> torch.Tensor:
            padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, 2,
                                           self.dilation)
            weight, bias = cast_bias_weight(self, input)
            return F.conv_transpose2d(input, weight, bias, self.stride, self.padding, padding, self.groups,
                                      self.dilation)

        forward = _cast_or_plain(nn.ConvTranspose2d.forward)

    class Embedding(nn.Embedding, CastWeightBiasOp):
        reset_parameters = _no_init

        def forward_comfy_cast_weights(self, input: torch.Tensor, out_dtype: torch.dtype | None = None) -> torch.Tensor:
            weight = cast_to(self.weight, None, input.device)
            out = F.embedding(input, weight, self.padding_idx, self.max_norm, self.norm_type,
                              self.scale_grad_by_freq, self.sparse)
            return out if out_dtype is None else out.to(out_dtype)

        def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
            if self._casts():
                return self.forward_comfy_cast_weights(*args, **kwargs)
            if "out_dtype" in kwargs:
                kwargs.pop("out_dtype")
            return super().forward(*args, **kwargs)

    @classmethod
    def conv_nd(cls, dims: int, *args: Any, **kwargs: Any) -> nn.Module:
        """Conv2d or Conv3d by number of spatial dimensions."""
        if dims == 2:
            return cls.Conv2d(*args, **kwargs)
        if dims == 3:
            return cls.Conv3d(*args, **kwargs)
        raise ValueError(f"unsupported dimensions: {dims}")


class manual_cast(disable_weight_init):  # noqa: N801 - ComfyUI's name
    """The same layers, always casting weights to the input's dtype and device."""

    class Linear(disable_weight_init.Linear):
        comfy_cast_weights = True

    class Conv1d(disable_weight_init.Conv1d):
        comfy_cast_weights = True

    class Conv2d(disable_weight_init.Conv2d):
        comfy_cast_weights = True

    class Conv3d(disable_weight_init.Conv3d):
        comfy_cast_weights = True

    class GroupNorm(disable_weight_init.GroupNorm):
        comfy_cast_weights = True

    class LayerNorm(disable_weight_init.LayerNorm):
        comfy_cast_weights = True

    class RMSNorm(disable_weight_init.RMSNorm):
        comfy_cast_weights = True

    class ConvTranspose1d(disable_weight_init.ConvTranspose1d):
        comfy_cast_weights = True

    class ConvTranspose2d(disable_weight_init.ConvTranspose2d):
        comfy_cast_weights = True

    class Embedding(disable_weight_init.Embedding):
        comfy_cast_weights = True


def pick_operations(weight_dtype: torch.dtype | None, compute_dtype: torch.dtype | None,
                    load_device: Any = None, disable_fast_fp8: bool = False, fp8_optimizations: bool = False,
                    scaled_fp8: Any = None, model_config: Any = None) -> type:
    """`disable_weight_init` when weights compute in the dtype they are stored in,
    `manual_cast` otherwise."""
    if compute_dtype is None or weight_dtype == compute_dtype:
        return disable_weight_init
    return manual_cast


# ---- building a network with a plugin's operations ------------------------------------------

def _rebuild(layer: nn.Module, ops_class: type) -> nn.Module:
    """An `ops_class` layer shaped like `layer` (built on the meta device; the weights load later)."""
    bias = getattr(layer, "bias", None) is not None
    with torch.device("meta"):
        if isinstance(layer, nn.Linear):
            return ops_class(layer.in_features, layer.out_features, bias=bias)
        if isinstance(layer, nn.modules.conv._ConvNd):
            return ops_class(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                             padding=layer.padding, dilation=layer.dilation, groups=layer.groups, bias=bias,
                             padding_mode=layer.padding_mode)
        if isinstance(layer, nn.GroupNorm):
            return ops_class(layer.num_groups, layer.num_channels, eps=layer.eps, affine=layer.affine)
        if isinstance(layer, nn.LayerNorm):
            return ops_class(layer.normalized_shape, eps=layer.eps, elementwise_affine=layer.elementwise_affine)
        if isinstance(layer, nn.Embedding):
            return ops_class(layer.num_embeddings, layer.embedding_dim, padding_idx=layer.padding_idx)
    raise TypeError(f"no operation for {type(layer).__name__}")


_REPLACEABLE = {nn.Linear: "Linear", nn.Conv1d: "Conv1d", nn.Conv2d: "Conv2d", nn.Conv3d: "Conv3d",
                nn.GroupNorm: "GroupNorm", nn.LayerNorm: "LayerNorm", nn.Embedding: "Embedding"}


def build_with_operations(module: nn.Module, operations: Any) -> nn.Module:
    """`module` (on the meta device, not yet loaded) with each plain torch layer replaced by
    the namespace's class of that name (ComfyUI's `custom_operations`, e.g. GGUF's quantized
    layers), so the state dict then loads through those classes. Layers of other types and
    names the namespace lacks stay as they are."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            kind = _REPLACEABLE.get(type(child))
            ops_class = getattr(operations, kind, None) if kind else None
            if ops_class is not None:
                setattr(parent, name, _rebuild(child, ops_class))
    return module
