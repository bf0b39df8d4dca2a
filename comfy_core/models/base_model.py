"""The model a MODEL value patches: our UNet with its model sampling, latent format and
config, shaped as ComfyUI's `comfy.model_base.BaseModel` (COMPAT-PLUGINS 3.11).

`apply_model(x, σ, c_concat, c_crossattn, control, transformer_options, **extra)` is the
one call from a noisy latent to the denoised estimate: c_in scaling, the concat channels
of inpainting UNets, σ -> timestep, the UNet in its compute dtype on its device, then
eps/v -> denoised. It is an nn.Module holding the UNet as `diffusion_model`, so state-dict
keys read `diffusion_model.input_blocks...` as plugins expect.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from comfy_core.models.family import ModelFamily, UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.patching.extension import WrapperExecutor, WrappersMP, get_all_wrappers
from comfy_core.sampling import model_sampling as ms
from comfy_core.sampling import predictions as pr
from comfy_core.sampling.lotus import lotus_task_embedding
from comfy_core.sampling.low_res import LowResNoiseAugmentor, low_res_inputs

# Working memory of one UNet call per latent cell and dtype byte (ComfyUI's SD estimate).
BYTES_PER_CELL_BYTE = 0.01 * 1024 * 1024


class ModelType(enum.Enum):
    """Prediction/schedule kinds, with ComfyUI's values."""

    EPS = 1
    V_PREDICTION = 2
    V_PREDICTION_EDM = 3
    STABLE_CASCADE = 4
    EDM = 5
    FLOW = 6
    V_PREDICTION_CONTINUOUS = 7
    FLUX = 8
    IMG_TO_IMG = 9
    FLOW_COSMOS = 10


# (prediction, continuous EDM schedule?) of a family -> its ModelType.
_FAMILY_TYPES = {("eps", False): ModelType.EPS, ("v", False): ModelType.V_PREDICTION,
                 ("v", True): ModelType.V_PREDICTION_EDM, ("edm", True): ModelType.EDM,
                 ("img_to_img", False): ModelType.IMG_TO_IMG}
# ModelType -> (σ schedule, prediction mix-in), as ComfyUI pairs them.
SAMPLING_KINDS = {
    ModelType.EPS: (ms.ModelSamplingDiscrete, pr.EPS),
    ModelType.V_PREDICTION: (ms.ModelSamplingDiscrete, pr.V_PREDICTION),
    ModelType.IMG_TO_IMG: (ms.ModelSamplingDiscrete, pr.IMG_TO_IMG),
    ModelType.V_PREDICTION_EDM: (ms.ModelSamplingContinuousEDM, pr.V_PREDICTION),
    ModelType.EDM: (ms.ModelSamplingContinuousEDM, pr.EDM),
    ModelType.V_PREDICTION_CONTINUOUS: (ms.ModelSamplingContinuousV, pr.V_PREDICTION),
    ModelType.FLOW_COSMOS: (ms.ModelSamplingCosmosRFlow, pr.COSMOS_RFLOW),
}


def model_type_of(family: ModelFamily) -> ModelType:
    """The ModelType ComfyUI gives a model of `family` (what CheckpointSave's markers follow)."""
    return _FAMILY_TYPES[(family.prediction, family.edm_schedule is not None)]


def model_sampling(model_config: Any, model_type: ModelType) -> Any:
    """The model sampling object of a model kind: its schedule class combined with its
    prediction mix-in, built from `model_config`'s sampling settings (ComfyUI's
    `model_base.model_sampling`). Flow-matching kinds belong to families this server does
    not run."""
    if model_type not in SAMPLING_KINDS:
        raise NotImplementedError(f"model sampling for {model_type} belongs to a model family this server "
                                  "does not run (SD1.x/SD2.x/SDXL sampling only)")
    schedule, prediction = SAMPLING_KINDS[model_type]
    return type("ModelSampling", (schedule, prediction), {})(model_config)


def family_model_sampling(family: ModelFamily) -> Any:
    """The model sampling a freshly loaded model of `family` has: the discrete schedule as
    `ms.ModelSampling` (eps or v, optionally zero-terminal-SNR), or for a continuous EDM
    family ComfyUI's schedule + mix-in pair over the family's σ range."""
    if family.edm_schedule is None:
        return ms.ModelSampling(ms.SamplingConfig(prediction=family.prediction, zsnr=family.zsnr,
                                                  linear_start=family.linear_start, linear_end=family.linear_end))
    return model_sampling(ModelConfig(family), model_type_of(family))


def unet_config_dict(cfg: UNetConfig) -> dict[str, Any]:
    """ComfyUI's `unet_config` keys for our UNet config."""
    return {
        "in_channels": cfg.in_channels, "out_channels": cfg.out_channels, "model_channels": cfg.model_channels,
        "channel_mult": list(cfg.channel_mult), "num_res_blocks": list(cfg.num_res_blocks),
        "transformer_depth": list(cfg.transformer_depth), "transformer_depth_output": list(cfg.transformer_depth_output),
        "transformer_depth_middle": cfg.transformer_depth_middle, "context_dim": cfg.context_dim,
        "num_heads": cfg.num_heads, "num_head_channels": cfg.num_head_channels,
        "use_linear_in_transformer": cfg.use_linear_in_transformer, "adm_in_channels": cfg.adm_in_channels,
        "use_spatial_transformer": True, "legacy": False,
        **({} if cfg.num_classes is None else {"num_classes": cfg.num_classes}),
        **({} if cfg.disable_self_attentions is None
           else {"disable_self_attentions": list(cfg.disable_self_attentions)}),
    }


@dataclass(eq=False)
class ModelConfig:
    """ComfyUI's `model_config`: what kind of model this is (`unet_config` as a dict, the
    latent format class, the dtypes it may run in, the discrete schedule's settings)."""

    family: ModelFamily
    unet_config: dict[str, Any] = field(init=False)
    latent_format: type = field(init=False)
    sampling_settings: dict[str, Any] = field(init=False)
    supported_inference_dtypes: list[torch.dtype] = field(
        default_factory=lambda: [torch.float16, torch.bfloat16, torch.float32])
    manual_cast_dtype: torch.dtype | None = None
    memory_usage_factor: float = 1.0

    def __post_init__(self) -> None:
        self.unet_config = unet_config_dict(self.family.unet)
        self.latent_format = type(self.family.latent)
        self.sampling_settings = {"beta_schedule": "linear", "linear_start": self.family.linear_start,
                                  "linear_end": self.family.linear_end, "timesteps": 1000, "zsnr": self.family.zsnr}
        edm = self.family.edm_schedule
        if edm is not None:
            self.sampling_settings.update(sigma_min=edm.sigma_min, sigma_max=edm.sigma_max, sigma_data=edm.sigma_data)


class BaseModel(nn.Module):
    """SD1.x / SD2.x model (SDXL and its refiner are the subclasses below)."""

    def __init__(self, model_config: ModelConfig, model_type: ModelType = ModelType.EPS,
                 device: torch.device | str | None = None, diffusion_model: nn.Module | None = None,
                 model_sampling: Any = None) -> None:
        super().__init__()
        family = model_config.family
        self.model_config = model_config
        self.model_type = model_type
        self.latent_format = model_config.latent_format()
        self.manual_cast_dtype = model_config.manual_cast_dtype
        self.device = torch.device(device or "cpu")
        self.diffusion_model = diffusion_model if diffusion_model is not None else UNetModel(family.unet)
        self.model_sampling = model_sampling
        self.adm_channels = family.unet.adm_in_channels or 0
        self.inpaint_model = family.inpaint
        self.current_patcher: Any = None

    @property
    def family(self) -> ModelFamily:
        return self.model_config.family

    def get_dtype(self) -> torch.dtype:
        """Storage dtype of the UNet's floating weights (float32 for a weightless network;
        a plugin's quantized layers store integers and are not counted)."""
        first = next((p for p in self.diffusion_model.parameters() if p.is_floating_point()), None)
        return torch.float32 if first is None else first.dtype

    def compute_dtype(self) -> torch.dtype:
        return self.manual_cast_dtype or self.get_dtype()

    def process_latent_in(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_in(latent)

    def process_latent_out(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_out(latent)

    def memory_required(self, input_shape: Sequence[int], cond_shapes: dict | None = None) -> int:
        """Working bytes of one UNet call on a batch of `input_shape` [B, C, h, w]."""
        cells = int(input_shape[0]) * math.prod(int(s) for s in input_shape[2:])
        return int(cells * self.compute_dtype().itemsize * BYTES_PER_CELL_BYTE * self.model_config.memory_usage_factor)

    def extra_conds(self, **kwargs: Any) -> dict[str, Any]:
        """The keyword inputs of `apply_model` that a cond provides (cross-attention tokens,
        inpainting concat channels, an already built ADM vector `y`)."""
        out: dict[str, Any] = {}
        for src, dst in (("cross_attn", "c_crossattn"), ("concat", "c_concat"), ("y", "y")):
            if kwargs.get(src) is not None:
                out[dst] = kwargs[src]
        return out

    def apply_model(self, x: torch.Tensor, t: torch.Tensor, c_concat: torch.Tensor | None = None,
                    c_crossattn: torch.Tensor | None = None, control: dict | None = None,
                    transformer_options: dict | None = None, **kwargs: Any) -> torch.Tensor:
        """Noisy latent x [B, C, h, w] at σ t [B] -> denoised estimate [B, C, h, w] (float32,
        on x's device), through the APPLY_MODEL wrappers."""
        transformer_options = {} if transformer_options is None else transformer_options
        wrappers = get_all_wrappers(WrappersMP.APPLY_MODEL, transformer_options)
        if not wrappers:
            return self._apply_model(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
        executor = WrapperExecutor.new_class_executor(self._apply_model, self, wrappers)
        return executor.execute(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    def _apply_model(self, x: torch.Tensor, t: torch.Tensor, c_concat: torch.Tensor | None = None,
                     c_crossattn: torch.Tensor | None = None, control: dict | None = None,
                     transformer_options: dict | None = None, **kwargs: Any) -> torch.Tensor:
        sigma, ms = t, self.model_sampling
        xc = ms.calculate_input(sigma, x)
        if c_concat is not None:
            xc = torch.cat([xc, c_concat.to(xc)], dim=1)  # [B, C + 1 + C, h, w]
        self._check_channels(xc)
        self._check_context(c_crossattn)
        device, dtype = self.device, self.compute_dtype()
        context = None if c_crossattn is None else c_crossattn.to(device, dtype)
        extra = {k: v.to(device, dtype) if torch.is_tensor(v) and v.is_floating_point() else v
                 for k, v in kwargs.items()}
        timestep = ms.timestep(sigma).float().to(device)
        out = self.diffusion_model(xc.to(device, dtype), timestep, context=context, control=control,
                                   transformer_options=transformer_options or {}, **extra)
        return ms.calculate_denoised(sigma, out.float().to(x.device), x)

    def _check_channels(self, xc: torch.Tensor) -> None:
        want = self.family.unet.in_channels
        if xc.shape[1] != want:
            hint = " (inpainting models need the mask + masked-latent concat)" if self.inpaint_model else ""
            raise ValueError(f"{self.family.name} UNet takes {want} input channels, got {xc.shape[1]}{hint}")

    def _check_context(self, context: torch.Tensor | None) -> None:
        """Our UNet's cross-attention width against the tokens (other networks check their own)."""
        if context is None or not isinstance(self.diffusion_model, UNetModel):
            return
        want = self.diffusion_model.config.context_dim
        if context.shape[-1] != want:
            raise ValueError(f"{self.family.name} UNet takes text features {want} wide, got {context.shape[-1]} "
                             f"(conditioning encoded by another model family's text encoder?)")


class SDXL(BaseModel):
    """SDXL base: `y` [B, 2816] (pooled CLIP-G + size embeddings) is required."""


class SDXLRefiner(BaseModel):
    """SDXL refiner: `y` [B, 2560] (pooled CLIP-G + size and aesthetic score embeddings)."""


class SD21UNCLIP(BaseModel):
    """SD 2.1 unCLIP: `y` [B, 2·E] is a noise-augmented CLIP image embedding and its noise
    level's embedding (`sampling.unclip`); without unCLIP conditioning it is zeros."""


class SD_X4Upscaler(BaseModel):  # noqa: N801 - ComfyUI's class name
    """Stability's SD 2.x x4 upscaler (v-prediction): the low-resolution image after x and
    its noise level as the class label `y` (`sampling.low_res`)."""

    def __init__(self, model_config: ModelConfig, model_type: ModelType = ModelType.V_PREDICTION,
                 device: torch.device | str | None = None, diffusion_model: nn.Module | None = None,
                 model_sampling: Any = None) -> None:
        super().__init__(model_config, model_type, device, diffusion_model, model_sampling)
        self.noise_augmentor = LowResNoiseAugmentor()

    def extra_conds(self, **kwargs: Any) -> dict[str, Any]:
        """Besides the cross-attention tokens: `c_concat` (the entry's `concat_image`, noise
        augmented) and `y` (its noise level) for the latent shape of `noise`."""
        out = super().extra_conds(**kwargs)
        seed = kwargs.get("seed")
        out["c_concat"], out["y"] = low_res_inputs(kwargs, kwargs["noise"].shape, self.noise_augmentor,
                                                   None if seed is None else int(seed), kwargs.get("device"))
        return out


class Lotus(BaseModel):
    """Lotus-D (depth/normal from one UNet call at t = 999, x0 predicted from the unscaled
    image latent): `y` is always the fixed task switcher (`sampling.lotus`)."""

    def __init__(self, model_config: ModelConfig, model_type: ModelType = ModelType.IMG_TO_IMG,
                 device: torch.device | str | None = None, diffusion_model: nn.Module | None = None,
                 model_sampling: Any = None) -> None:
        super().__init__(model_config, model_type, device, diffusion_model, model_sampling)

    def extra_conds(self, **kwargs: Any) -> dict[str, Any]:
        out = super().extra_conds(**kwargs)
        out["y"] = lotus_task_embedding()
        return out


MODEL_CLASSES: dict[str | None, type[BaseModel]] = {None: BaseModel, "sdxl": SDXL, "sdxl_refiner": SDXLRefiner,
                                                    "unclip": SD21UNCLIP, "lotus": Lotus}


def base_model_for(family: ModelFamily, diffusion_model: nn.Module, model_sampling: Any,
                   device: torch.device | str | None = None,
                   manual_cast_dtype: torch.dtype | None = None) -> BaseModel:
    """The BaseModel (class by family) around a loaded UNet."""
    cls = SD_X4Upscaler if family.low_res_concat else MODEL_CLASSES[family.adm]
    config = ModelConfig(family, manual_cast_dtype=manual_cast_dtype)
    return cls(config, model_type_of(family), device, diffusion_model, model_sampling)
