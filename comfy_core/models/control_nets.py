"""The three control kinds behind CONTROL_NET values (ComfyUI's `ControlNet`, `ControlLora`
and `T2IAdapter` classes, same constructors and attributes):

- `ControlNet`: a ControlNet network run on every model call inside its schedule range, on
  the scaled noisy latent at the model's timestep, with the hint (resized to the latent's
  pixel size), the cross-attention tokens (the ControlNet-specific ones when set) and `y`.
- `ControlLora`: a Control-LoRA file (LoRA deltas and new layers for a ControlNet built from
  the sampled model's own UNet); the network is assembled in `pre_run`.
- `T2IAdapter`: an adapter run once per hint size; its features are added to the UNet's
  encoder blocks (and middle block for SDXL).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from comfy_core.images.resize import upscale
from comfy_core.models.control import (ControlBase, ControlDict, StrengthType, _identity, broadcast_image_to,
                                       hint_matches, prepare_hint)
from comfy_core.models.control_weights import control_lora_state, wrap_control_model
from comfy_core.models.controlnet import ControlNetConfig, ControlNetModel
from comfy_core.models.t2i_adapter import t2i_control_lists


def _module_dtype(module: nn.Module) -> torch.dtype:
    first = next(module.parameters(), None)
    return torch.float32 if first is None else first.dtype


class ControlNet(ControlBase):
    def __init__(self, control_model: nn.Module | None = None, global_average_pooling: bool = False,
                 compression_ratio: int = 8, latent_format: Any = None, load_device: Any = None,
                 manual_cast_dtype: torch.dtype | None = None, extra_conds: list[str] | None = None,
                 strength_type: StrengthType = StrengthType.CONSTANT, concat_mask: bool = False,
                 preprocess_image: Callable[[torch.Tensor], torch.Tensor] = _identity) -> None:
        super().__init__()
        self.control_model = control_model
        self.load_device = load_device
        self.control_model_wrapped: Any = None
        if control_model is not None:
            self.control_model_wrapped = wrap_control_model(control_model, load_device)
        self.compression_ratio = compression_ratio
        self.global_average_pooling = global_average_pooling
        self.model_sampling_current: Any = None
        self.manual_cast_dtype = manual_cast_dtype
        self.latent_format = latent_format
        self.extra_conds += ["y"] if extra_conds is None else list(extra_conds)
        self.strength_type = strength_type
        self.concat_mask = concat_mask
        self.preprocess_image = preprocess_image

    def _dtype(self) -> torch.dtype:
        return self.manual_cast_dtype or _module_dtype(self.control_model)

    def _ensure_on(self, device: torch.device) -> None:
        """Sampling loads `get_models()`; a direct call (a test, a plugin sampler that does
        not) loads the network here, on the latent's device."""
        wrapped = self.control_model_wrapped
        if wrapped is not None and torch.device(wrapped.device) != device:
            wrapped.load(device)

    def get_control(self, x_noisy: torch.Tensor, t: torch.Tensor, cond: dict, batched_number: int,
                    transformer_options: dict) -> ControlDict | None:
        prev = self._previous_control(x_noisy, t, cond, batched_number, transformer_options)
        if not self.active_at(t):
            return prev
        if self.model_sampling_current is None:
            raise RuntimeError("ControlNet.get_control called before pre_run(model, ...) (outside sampling)")
        self._ensure_on(x_noisy.device)
        dtype = self._dtype()
        if not hint_matches(self.cond_hint, x_noisy, self.compression_ratio):
            self.cond_hint = prepare_hint(self, x_noisy, dtype)
        if x_noisy.shape[0] != self.cond_hint.shape[0]:
            self.cond_hint = broadcast_image_to(self.cond_hint, x_noisy.shape[0], batched_number)
        context = cond.get("crossattn_controlnet", cond["c_crossattn"])
        extra = dict(self.extra_args)
        for name in self.extra_conds:
            if cond.get(name) is not None:
                extra[name] = cond[name].to(dtype)
        ms = self.model_sampling_current
        x_in = ms.calculate_input(t, x_noisy)
        with torch.no_grad():
            control = self.control_model(x=x_in.to(dtype), hint=self.cond_hint, timesteps=ms.timestep(t).to(dtype),
                                         context=context.to(dtype), **extra)
        return self.control_merge(control, prev, output_dtype=None)

    def copy(self) -> "ControlNet":
        c = ControlNet(None, global_average_pooling=self.global_average_pooling, load_device=self.load_device,
                       manual_cast_dtype=self.manual_cast_dtype)
        c.control_model = self.control_model
        c.control_model_wrapped = self.control_model_wrapped
        self.copy_to(c)
        return c

    def get_models(self) -> list[Any]:
        return super().get_models() + ([self.control_model_wrapped] if self.control_model_wrapped is not None else [])

    def pre_run(self, model: Any, percent_to_timestep_function: Callable[[float], float]) -> None:
        super().pre_run(model, percent_to_timestep_function)
        check_fits(self, model)
        self.model_sampling_current = model.model_sampling

    def cleanup(self) -> None:
        self.model_sampling_current = None
        super().cleanup()


_FITTING_FIELDS = ("model_channels", "channel_mult", "num_res_blocks", "context_dim", "adm_in_channels")


def check_fits(control: ControlBase, model: Any) -> None:
    """Refuse a ControlNet made for another model family (other widths, levels, text
    encoder or ADM input) before it runs, naming the file and both families."""
    config = getattr(getattr(control, "control_model", None), "config", None)
    unet = getattr(_diffusion_model(model), "config", None)
    if config is None or unet is None or not hasattr(config, "unet"):
        return
    differ = [f for f in _FITTING_FIELDS if getattr(config.unet, f) != getattr(unet, f)]
    if differ:
        family = getattr(getattr(model, "family", None), "name", "this")
        raise ValueError(f"ControlNet {control.source_name or ''} was made for {config.family or 'another'} models "
                         f"and does not fit the {family} model being sampled ({', '.join(differ)} differ: "
                         f"{[getattr(config.unet, f) for f in differ]} vs {[getattr(unet, f) for f in differ]})")


def _diffusion_model(model: Any) -> nn.Module:
    """The UNet of a base model (ComfyUI's BaseModel) or of a MODEL value."""
    for name in ("diffusion_model", "unet"):
        unet = getattr(model, name, None)
        if isinstance(unet, nn.Module):
            return unet
    raise TypeError(f"a Control-LoRA needs the sampled model's UNet; {type(model).__name__} has none")


class ControlLora(ControlNet):
    """A Control-LoRA: `control_weights` holds the hint encoder, zero convs, LoRA pairs
    (`<layer>.up` / `<layer>.down`) and replaced layers of a ControlNet whose other weights
    are the sampled UNet's encoder."""

    def __init__(self, control_weights: dict[str, torch.Tensor], global_average_pooling: bool = False,
                 model_options: dict | None = None) -> None:
        ControlBase.__init__(self)
        self.control_weights = control_weights
        self.global_average_pooling = global_average_pooling
        self.control_model = None
        self.control_model_wrapped = None
        self.model_sampling_current = None
        self.manual_cast_dtype = None
        self.load_device = None
        self.extra_conds += ["y"]

    def pre_run(self, model: Any, percent_to_timestep_function: Callable[[float], float]) -> None:
        super().pre_run(model, percent_to_timestep_function)
        unet = _diffusion_model(model)
        hint = int(self.control_weights["input_hint_block.0.weight"].shape[1])
        config = ControlNetConfig(unet.config, hint_channels=hint)
        state = control_lora_state(unet.state_dict(), self.control_weights)
        with torch.device("meta"):
            network = ControlNetModel(config)
        network.load_state_dict(state, strict=True, assign=True)
        self.control_model = network.eval().requires_grad_(False)
        # Built after the models were loaded: it moves to the latent's device at first use.
        self.control_model_wrapped = wrap_control_model(self.control_model, None)

    def copy(self) -> "ControlLora":
        c = ControlLora(self.control_weights, global_average_pooling=self.global_average_pooling)
        self.copy_to(c)
        return c

    def cleanup(self) -> None:
        self.control_model = None
        self.control_model_wrapped = None
        super().cleanup()

    def get_models(self) -> list[Any]:
        return ControlBase.get_models(self)

    def inference_memory_requirements(self, dtype: torch.dtype) -> int:
        own = sum(t.numel() for t in self.control_weights.values()) * dtype.itemsize
        return own + ControlBase.inference_memory_requirements(self, dtype)


class T2IAdapter(ControlBase):
    def __init__(self, t2i_model: nn.Module, channels_in: int, compression_ratio: int, upscale_algorithm: str,
                 device: Any = None) -> None:
        super().__init__()
        self.t2i_model = t2i_model
        self.channels_in = channels_in
        self.control_input: dict[str, list[torch.Tensor | None]] | None = None
        self.compression_ratio = compression_ratio
        self.upscale_algorithm = upscale_algorithm
        self.device = device

    def scale_image_to(self, width: int, height: int) -> tuple[int, int]:
        """Pixel size rounded up to a multiple of the adapter's unshuffle factor."""
        step = self.t2i_model.unshuffle_amount
        return math.ceil(width / step) * step, math.ceil(height / step) * step

    def _prepare(self, x_noisy: torch.Tensor) -> None:
        width, height = self.scale_image_to(x_noisy.shape[3] * self.compression_ratio,
                                            x_noisy.shape[2] * self.compression_ratio)
        hint = upscale(self.cond_hint_original, width, height, self.upscale_algorithm, "center").float()
        if self.channels_in == 1 and hint.shape[1] > 1:
            hint = hint.mean(dim=1, keepdim=True)
        self.cond_hint = hint.to(self.device or x_noisy.device)
        self.control_input = None

    def get_control(self, x_noisy: torch.Tensor, t: torch.Tensor, cond: dict, batched_number: int,
                    transformer_options: dict) -> ControlDict | None:
        prev = self._previous_control(x_noisy, t, cond, batched_number, transformer_options)
        if not self.active_at(t):
            return prev
        if not hint_matches(self.cond_hint, x_noisy, self.compression_ratio):
            self._prepare(x_noisy)
        if x_noisy.shape[0] != self.cond_hint.shape[0]:
            hint = broadcast_image_to(self.cond_hint, x_noisy.shape[0], batched_number)
            if hint.shape[0] != self.cond_hint.shape[0]:
                self.cond_hint, self.control_input = hint, None
        if self.control_input is None:
            self.t2i_model.to(device=self.cond_hint.device, dtype=x_noisy.dtype)
            with torch.no_grad():
                features = self.t2i_model(self.cond_hint.to(x_noisy.dtype))
            self.control_input = t2i_control_lists(features, self.t2i_model.xl)
            self.t2i_model.to("cpu")
        control = {k: [None if a is None else a.clone() for a in v] for k, v in self.control_input.items()}
        return self.control_merge(control, prev, x_noisy.dtype)

    def cleanup(self) -> None:
        self.control_input = None
        super().cleanup()

    def copy(self) -> "T2IAdapter":
        c = T2IAdapter(self.t2i_model, self.channels_in, self.compression_ratio, self.upscale_algorithm)
        self.copy_to(c)
        return c
