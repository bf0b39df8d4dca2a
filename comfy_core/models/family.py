"""Model families as frozen data.

A family says what a checkpoint *is* (latent format, prediction type, text encoders, ADM
layout); the UNet/VAE/CLIP shapes are read from the weights at load time, so tiny test
checkpoints and real ones share one code path. `loading.detect` returns a family with its
`unet` field replaced by the detected config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from comfy_core.models import latent_formats

Prediction = Literal["eps", "v", "edm", "img_to_img"]
AdmKind = Literal["sdxl", "sdxl_refiner", "unclip", "lotus"] | None


@dataclass(frozen=True)
class UNetConfig:
    """Constructor arguments of `models.unet.UNetModel` (LDM "openaimodel" layout).

    Depths are per block: `transformer_depth` has one entry per input block that follows a
    resolution level's res blocks (levels x num_res_blocks), `transformer_depth_output` one
    per output block (levels x (num_res_blocks + 1)). `num_heads` or `num_head_channels`
    fixes the attention heads (the other is -1); neither can be read from weight shapes.
    `num_classes` sizes a class-label embedding (the x4 upscaler's noise level, an int label
    per sample); `disable_self_attentions` has one flag per level: its transformers' first
    attention attends to the context instead of the pixels (LDM's `disable_self_attn`).
    """

    in_channels: int = 4
    out_channels: int = 4
    model_channels: int = 320
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: tuple[int, ...] = (2, 2, 2, 2)
    transformer_depth: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 0, 0)
    transformer_depth_output: tuple[int, ...] = (0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    transformer_depth_middle: int = 1
    context_dim: int = 768
    num_heads: int = 8
    num_head_channels: int = -1
    use_linear_in_transformer: bool = False
    adm_in_channels: int | None = None
    num_classes: int | None = None
    disable_self_attentions: tuple[bool, ...] | None = None

    def self_attention_disabled(self, level: int) -> bool:
        """Whether the transformers of resolution level `level` have no self-attention."""
        flags = self.disable_self_attentions or ()
        return level < len(flags) and bool(flags[level])

    def heads_for(self, channels: int) -> tuple[int, int]:
        """(heads, head_dim) of a transformer with `channels` features."""
        if self.num_head_channels > 0:
            heads = max(1, channels // self.num_head_channels)
        else:
            heads = self.num_heads
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} attention heads")
        return heads, channels // heads


@dataclass(frozen=True)
class TextEncoderSpec:
    """One CLIP text encoder of a family.

    `name` is the role ("clip_l", "clip_h", "clip_g"), `pad_token` the id used after EOS,
    `default_layer` the hidden layer used without CLIPSetLastLayer (-1 last, -2 penultimate),
    `final_norm` whether the final LayerNorm is applied to that layer (COMPAT 9.7).
    `hidden_size` / `projection_dim` are the real model's sizes (checkpoints may be smaller).
    """

    name: str
    pad_token: int
    default_layer: int
    final_norm: bool
    hidden_size: int
    projection_dim: int | None
    open_clip: bool


@dataclass(frozen=True)
class EDMSchedule:
    """A continuous σ range in EDM's parameterisation (Karras et al. 2022): what ComfyUI's
    `ModelSamplingContinuousEDM` reads from a model config's sampling settings."""

    sigma_min: float = 0.002
    sigma_max: float = 120.0
    sigma_data: float = 1.0


@dataclass(frozen=True)
class ModelFamily:
    """A checkpoint family: what the sampling, text and VAE code need to treat it right.

    `prediction` is what the network outputs: "eps", "v", "edm" (EDM's F̂, which needs
    `edm_schedule`) or "img_to_img" (the clean sample, from the unscaled input: Lotus).
    `edm_schedule` None means the discrete DDPM schedule of `linear_start..linear_end`
    (zero-terminal-SNR when `zsnr`); set, the continuous EDM σ range a marker-carrying SDXL
    file asks for (`loading.markers`)."""

    name: str
    unet: UNetConfig
    latent: latent_formats.LatentFormat
    prediction: Prediction
    text_encoders: tuple[TextEncoderSpec, ...]
    adm: AdmKind = None
    zsnr: bool = False
    linear_start: float = 0.00085  # the discrete schedule's β range ("linear": sqrt-spaced)
    linear_end: float = 0.012
    edm_schedule: EDMSchedule | None = None

    def __post_init__(self) -> None:
        continuous = self.edm_schedule is not None
        if self.prediction == "edm" and not continuous:
            raise ValueError(f"family {self.name!r}: EDM prediction needs a continuous EDM schedule")
        if continuous and (self.prediction == "eps" or self.zsnr):
            raise ValueError(f"family {self.name!r}: a continuous EDM schedule goes with v or EDM "
                             f"prediction and no zero-SNR rescale")

    @property
    def adm_size(self) -> int | None:
        """Width of the `y` vector the UNet takes (None: no ADM input)."""
        return self.unet.adm_in_channels

    @property
    def inpaint(self) -> bool:
        """Inpainting UNets take the mask and the masked image's latent after x (COMPAT 10.1):
        1 + C extra input channels."""
        return self.unet.in_channels == 2 * self.latent.latent_channels + 1

    @property
    def ip2p(self) -> bool:
        """InstructPix2Pix UNets (Brooks et al. 2023) take the input image's latent after x:
        C extra input channels."""
        return self.unet.in_channels == 2 * self.latent.latent_channels

    @property
    def low_res_concat(self) -> bool:
        """The SD 2.x x4 upscaler: the low-resolution RGB image (3 channels) follows x on the
        channel axis and its noise-augmentation level is the UNet's class label."""
        return self.unet.num_classes is not None and self.unet.in_channels == self.latent.latent_channels + 3

    def encoder(self, name: str) -> TextEncoderSpec:
        for spec in self.text_encoders:
            if spec.name == name:
                return spec
        raise KeyError(f"family {self.name!r} has no text encoder {name!r}")


SD15_LATENT = latent_formats.SD15()
SDXL_LATENT = latent_formats.SDXL()
# Playground v2.5: the SDXL architecture trained with EDM's preconditioning on σ 0.002..80
# (σ_data 0.5) in its own latent space (`latent_formats.SDXL_Playground_2_5`).
PLAYGROUND_LATENT = latent_formats.SDXL_Playground_2_5()
PLAYGROUND_SCHEDULE = EDMSchedule(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5)

CLIP_L = TextEncoderSpec("clip_l", 49407, -1, True, 768, None, open_clip=False)
CLIP_H = TextEncoderSpec("clip_h", 0, -2, True, 1024, None, open_clip=True)
SDXL_CLIP_L = TextEncoderSpec("clip_l", 49407, -2, False, 768, None, open_clip=False)
SDXL_CLIP_G = TextEncoderSpec("clip_g", 0, -2, False, 1280, 1280, open_clip=True)

SD15 = ModelFamily(
    name="sd15",
    unet=UNetConfig(),
    latent=SD15_LATENT,
    prediction="eps",
    text_encoders=(CLIP_L,),
)

SD2_UNET = UNetConfig(
    context_dim=1024, num_heads=-1, num_head_channels=64, use_linear_in_transformer=True
)

SD2_EPS = ModelFamily(
    name="sd2", unet=SD2_UNET, latent=SD15_LATENT, prediction="eps", text_encoders=(CLIP_H,)
)

SD2_V = ModelFamily(
    name="sd2_v", unet=SD2_UNET, latent=SD15_LATENT, prediction="v", text_encoders=(CLIP_H,)
)

SDXL = ModelFamily(
    name="sdxl",
    unet=UNetConfig(
        channel_mult=(1, 2, 4),
        num_res_blocks=(2, 2, 2),
        transformer_depth=(0, 0, 2, 2, 10, 10),
        transformer_depth_output=(0, 0, 0, 2, 2, 2, 10, 10, 10),
        transformer_depth_middle=10,
        context_dim=2048,
        num_heads=-1,
        num_head_channels=64,
        use_linear_in_transformer=True,
        adm_in_channels=2816,
    ),
    latent=SDXL_LATENT,
    prediction="eps",
    text_encoders=(SDXL_CLIP_L, SDXL_CLIP_G),
    adm="sdxl",
)

SDXL_REFINER = ModelFamily(
    name="sdxl_refiner",
    unet=UNetConfig(
        model_channels=384,
        channel_mult=(1, 2, 4, 4),
        num_res_blocks=(2, 2, 2, 2),
        transformer_depth=(0, 0, 4, 4, 4, 4, 0, 0),
        transformer_depth_output=(0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4),
        transformer_depth_middle=4,
        context_dim=1280,
        num_heads=-1,
        num_head_channels=64,
        use_linear_in_transformer=True,
        adm_in_channels=2560,
    ),
    latent=SDXL_LATENT,
    prediction="eps",
    text_encoders=(SDXL_CLIP_G,),
    adm="sdxl_refiner",
)

# SD 2.1 unCLIP (Stable unCLIP): SD2's UNet whose ADM input is a noise-augmented CLIP image
# embedding and its noise level's embedding (2048 for ViT-H/14 "unclip-h", 1536 for ViT-L/14).
SD21_UNCLIP = ModelFamily(
    name="sd21_unclip", unet=dataclasses.replace(SD2_UNET, adm_in_channels=2048), latent=SD15_LATENT,
    prediction="v", text_encoders=(CLIP_H,), adm="unclip",
)

# Stability's SD 2.x x4 latent upscaler (x4-upscaler-ema): an SD2-style UNet at 256 channels
# whose input is the noisy latent and the low-resolution image (7 channels), whose class
# label is the image's noise level (1000 labels), without self-attention in its first three
# levels; a VAE that downsamples 4x; v-prediction on the β 1e-4..2e-2 schedule.
SD_X4_UPSCALER = ModelFamily(
    name="sd_x4_upscaler",
    unet=UNetConfig(
        in_channels=7, model_channels=256, channel_mult=(1, 2, 2, 4), num_res_blocks=(2, 2, 2, 2),
        transformer_depth=(0, 0, 1, 1, 1, 1, 1, 1), transformer_depth_output=(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
        transformer_depth_middle=1, context_dim=1024, num_heads=8, num_head_channels=-1,
        use_linear_in_transformer=True, num_classes=1000, disable_self_attentions=(True, True, True, False),
    ),
    latent=latent_formats.SD_X4(),
    prediction="v",
    text_encoders=(CLIP_H,),
    linear_start=0.0001,
    linear_end=0.02,
)

# Lotus-D (He et al. 2024, "Lotus: Diffusion-based Visual Foundation Model for High-quality
# Dense Prediction"): SD2's UNet fine-tuned to map an image's latent, in one step at the
# last timestep, straight to its depth (or normal) map's latent. Its class-label input is a
# 4-wide "task switcher" (`sampling.lotus`); its text input is the fixed encoding of an
# empty prompt (LotusConditioning). The file is a bare UNet (UNETLoader), no text encoder.
LOTUS_TASK_WIDTH = 4
LOTUS = ModelFamily(
    name="lotus", unet=dataclasses.replace(SD2_UNET, adm_in_channels=LOTUS_TASK_WIDTH), latent=SD15_LATENT,
    prediction="img_to_img", text_encoders=(CLIP_H,), adm="lotus",
)

FAMILIES: MappingProxyType[str, ModelFamily] = MappingProxyType(
    {f.name: f for f in (SD15, SD2_EPS, SD2_V, SDXL, SDXL_REFINER, SD21_UNCLIP, SD_X4_UPSCALER, LOTUS)}
)
