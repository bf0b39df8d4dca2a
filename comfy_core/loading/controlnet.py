"""ControlNet-folder files -> CONTROL_NET values (ComfyUI's `load_controlnet`).

The kind is read from the keys (COMPAT-PLUGINS 3.17):
- `lora_controlnet` present: a Control-LoRA (built from the sampled model in `pre_run`);
- `controlnet_cond_embedding.conv_in.weight`: the diffusers layout (plain or union), converted;
- `control_model.zero_convs.0.0.weight` (the original single-file layout) or
  `zero_convs.0.0.weight` (bare): an LDM ControlNet; a `difference` key marks a "diff"
  ControlNet whose weights are offsets from the base UNet's (DiffControlNetLoader's MODEL);
- otherwise a T2I-Adapter (full, XL or light; TencentARC or diffusers layout).
The UNet config a ControlNet copies is read from its weights like a checkpoint's
(`loading.detect`), so SD1.x, SD2.x and SDXL ControlNets of any size load alike. Anything
else is refused with an error naming the file and what the weights look like.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch

from comfy_core.loading.controlnet_keys import (DIFFUSERS_CONTROLNET_PROBE, diffusers_controlnet_to_ldm,
                                                diffusers_t2i_to_tencent, is_diffusers_t2i)
from comfy_core.loading.describe import describe_weights
from comfy_core.loading.detect import DetectionError, detect_family
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.control import ControlBase
from comfy_core.models.control_nets import ControlLora, ControlNet, T2IAdapter
from comfy_core.models.control_weights import CONTROL_LORA_MARKER
from comfy_core.models.controlnet import ControlNetConfig, ControlNetModel
from comfy_core.models.t2i_adapter import Adapter, AdapterConfig, AdapterLight, LightConfig

log = logging.getLogger(__name__)
Tensors = dict[str, torch.Tensor]

SINGLE_FILE_PREFIX = "control_model."
DIFF_MARKER = "difference"
XL_ADAPTER_INPUTS = (256, 768)  # 1 or 3 hint channels x 16² (ComfyUI's rule for SDXL adapters)


class ControlNetFileError(CheckpointError):
    """A file in the controlnet folder that cannot be used; the message names it."""


def is_shuffle_name(path: str | Path) -> bool:
    """ComfyUI pools the residuals of "shuffle" ControlNets globally, by file name."""
    return Path(path).stem.endswith(("_shuffle", "_shuffle_fp16"))


def load_controlnet(path: str | Path, model: Any = None, *, dtype: torch.dtype | None = None,
                    device: torch.device | str = "cpu", load_device: Any = None,
                    global_average_pooling: bool | None = None) -> ControlBase:
    """The CONTROL_NET value of a safetensors file. `model` (a MODEL) is needed by diff
    ControlNets; weights rest on `device` in `dtype` (the file's when None)."""
    path = Path(path)
    pooling = is_shuffle_name(path) if global_average_pooling is None else global_average_pooling
    state = load_state_dict(path)
    return controlnet_from_state(state, path.name, model, dtype=dtype, device=device, load_device=load_device,
                                 global_average_pooling=pooling)


def controlnet_from_state(state: Tensors, name: str, model: Any = None, *, dtype: torch.dtype | None = None,
                          device: torch.device | str = "cpu", load_device: Any = None,
                          global_average_pooling: bool = False) -> ControlBase:
    """See `load_controlnet`; `name` is used in errors."""
    if CONTROL_LORA_MARKER in state:
        lora = ControlLora(state, global_average_pooling=global_average_pooling)
        lora.source_name = name
        return lora
    if DIFFUSERS_CONTROLNET_PROBE in state:
        try:
            state = diffusers_controlnet_to_ldm(state)
        except (KeyError, CheckpointError) as exc:
            raise ControlNetFileError(f"{name}: a diffusers-layout ControlNet with keys we cannot place: {exc}") from exc
    elif SINGLE_FILE_PREFIX + "zero_convs.0.0.weight" in state:
        state = _single_file(state, name, model)
    elif "zero_convs.0.0.weight" not in state:
        adapter = t2i_from_state(state, name)
        if adapter is None:
            raise ControlNetFileError(f"{name}: not a ControlNet, Control-LoRA or T2I-Adapter; the weights look "
                                      f"like {describe_weights(state)}")
        return adapter
    network = build_controlnet(state, name, dtype, device)
    control = ControlNet(network, global_average_pooling=global_average_pooling, load_device=load_device)
    control.source_name = name
    return control


def _single_file(state: Tensors, name: str, model: Any) -> Tensors:
    """`control_model.*` keys without the prefix; diff ControlNets get the base UNet added."""
    out = {k[len(SINGLE_FILE_PREFIX):]: v for k, v in state.items() if k.startswith(SINGLE_FILE_PREFIX)}
    if DIFF_MARKER not in state:
        return out
    if model is None:
        raise ControlNetFileError(f"{name}: a 'diff' ControlNet (weights stored as differences from a base UNet); "
                                  "load it with DiffControlNetLoader and the model it was made from")
    base = _unet_state(model)
    for key, tensor in out.items():
        if key in base:
            out[key] = tensor + base[key].to(tensor)
    return out


def _unet_state(model: Any) -> Tensors:
    """The UNet weights of a MODEL (as patched for it: ComfyUI's `model_state_dict`)."""
    if hasattr(model, "model_state_dict"):
        prefix = "diffusion_model."
        return {k[len(prefix):]: v for k, v in model.model_state_dict(prefix).items()}
    return model.unet.state_dict()


def build_controlnet(state: Tensors, name: str, dtype: torch.dtype | None, device: torch.device | str
                     ) -> ControlNetModel:
    """The cldm network for an LDM-layout state dict (prefix removed)."""
    try:
        family = detect_family(state)
    except DetectionError as exc:
        raise ControlNetFileError(f"{name}: not a ControlNet this loader understands ({exc})") from exc
    union = state.get("task_embedding")
    config = ControlNetConfig(unet=family.unet, hint_channels=int(state["input_hint_block.0.weight"].shape[1]),
                              union_types=None if union is None else int(union.shape[0]),
                              union_channels=320 if union is None else int(union.shape[1]), family=family.name)
    with torch.device("meta"):
        network = ControlNetModel(config)
    counts: dict[torch.dtype, int] = {}
    for t in state.values():
        counts[t.dtype] = counts.get(t.dtype, 0) + t.numel()
    dtype = dtype or max(counts, key=counts.get)
    state = {k: v.to(device=device, dtype=dtype) if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = network.load_state_dict(state, strict=False, assign=True)
    if missing:
        raise ControlNetFileError(f"{name}: {len(missing)} ControlNet weights missing, e.g. {missing[:3]}")
    if unexpected:
        log.info("%s: %d weights not used by the ControlNet, e.g. %s", name, len(unexpected), unexpected[:3])
    return network.eval().requires_grad_(False)


def _levels(state: Tensors, pattern: str) -> int:
    return 1 + max(int(m.group(1)) for k in state if (m := re.match(pattern, k)))


def _adapter_layout(state: Tensors) -> tuple[type, Any] | None:
    """(network class, config) of a TencentARC-layout adapter, None for other keys."""
    if "body.0.in_conv.weight" in state and "body.0.out_conv.weight" in state:
        levels = _levels(state, r"body\.(\d+)\.")
        return AdapterLight, LightConfig(
            in_channels=int(state["body.0.in_conv.weight"].shape[1]),
            channels=tuple(int(state[f"body.{i}.out_conv.weight"].shape[0]) for i in range(levels)),
            blocks=_levels(state, r"body\.0\.body\.(\d+)\."))
    if "conv_in.weight" in state and "body.0.block1.weight" in state:
        in_channels = int(state["conv_in.weight"].shape[1])
        blocks = _levels(state, r"body\.(\d+)\.") // 4
        return Adapter, AdapterConfig(
            in_channels=in_channels, blocks=blocks,
            channels=tuple(int(state[f"body.{i * blocks}.block1.weight"].shape[0]) for i in range(4)),
            kernel=int(state["body.0.block2.weight"].shape[2]),
            skip_conv=any(k.endswith(".skep.weight") for k in state),
            conv_down=any(k.endswith("down_opt.op.weight") for k in state),
            xl=in_channels in XL_ADAPTER_INPUTS)
    return None


def t2i_from_state(state: Tensors, name: str) -> T2IAdapter | None:
    """A T2I-Adapter value, or None when the keys are no adapter's."""
    if is_diffusers_t2i(state):
        state = diffusers_t2i_to_tencent(state)
    layout = _adapter_layout(state)
    if layout is None:
        return None
    cls, config = layout
    with torch.device("meta"):
        network = cls(config)
    missing, unexpected = network.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise ControlNetFileError(f"{name}: a T2I-Adapter whose weights do not fit its layout (missing "
                                  f"{missing[:3]}, unexpected {unexpected[:3]})")
    adapter = T2IAdapter(network.eval().requires_grad_(False), network.input_channels, 8, "nearest-exact")
    adapter.source_name = name
    return adapter
