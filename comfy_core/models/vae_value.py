"""The VAE value: the autoencoder behind a patcher, with ComfyUI's `comfy.sd.VAE` interface
(COMPAT-PLUGINS 3.8), because plugins call `vae.decode(latent)` directly; our nodes do too.

Units are ComfyUI's: IMAGE pixels [B, H, W, C] in [0, 1] <-> raw VAE latents [B, 4, H/8, W/8]
(no scale factor); results are float32 on `output_device` (the CPU). `encode_tiled` takes
tile sizes in pixels, `decode_tiled` in latent cells. Each call loads the model itself
through the memory manager and falls back to smaller tiles when memory runs out.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from comfy_core.memory.current import current_manager, load_models
from comfy_core.memory.recovery import OomRecovery
from comfy_core.models.patcher import ModelPatcher
from comfy_core.models.vae import AutoencoderKL
from comfy_core.models.vae_tiled import tiled_apply

# Working memory per element, as ComfyUI estimates it for SD VAEs (bytes per dtype byte).
DECODE_BYTES_PER_LATENT_CELL = 2178 * 64
ENCODE_BYTES_PER_PIXEL = 1767


class VAE:
    """VAE value over an `AutoencoderKL` (SD1/SD2/SDXL)."""

    def __init__(self, first_stage_model: AutoencoderKL, load_device: torch.device | str | None = None,
                 offload_device: torch.device | str | None = None) -> None:
        self.first_stage_model = first_stage_model
        self.patcher = ModelPatcher(first_stage_model, load_device, offload_device)
        self.device = self.patcher.load_device
        self.output_device = torch.device("cpu")
        config = first_stage_model.config
        self.latent_channels = config.embed_dim
        self.latent_dim = 2
        self.downscale_ratio = self.upscale_ratio = config.downscale
        self.downscale_index_formula = self.upscale_index_formula = None

    @property
    def vae_dtype(self) -> torch.dtype:
        """dtype the autoencoder computes in (inputs are cast to it)."""
        return self.patcher.weights.compute_dtype or self.patcher.weights.storage_dtype()

    def throw_exception_if_invalid(self) -> None:
        if self.first_stage_model is None:
            raise RuntimeError("ERROR: VAE is invalid: None\n\nIf the VAE is from a checkpoint loader node your "
                               "checkpoint does not contain a valid VAE.")

    def spacial_compression_decode(self) -> int:
        return self.upscale_ratio

    def spacial_compression_encode(self) -> int:
        return self.downscale_ratio

    def temporal_compression_decode(self) -> None:
        return None

    def memory_used_decode(self, shape: Any, dtype: torch.dtype) -> int:
        """Working bytes of decoding latents of `shape` [B, C, h, w]."""
        return int(DECODE_BYTES_PER_LATENT_CELL * shape[0] * shape[-2] * shape[-1] * dtype.itemsize)

    def memory_used_encode(self, shape: Any, dtype: torch.dtype) -> int:
        """Working bytes of encoding pixels of `shape` [B, H, W, C]."""
        return int(ENCODE_BYTES_PER_PIXEL * shape[0] * shape[1] * shape[2] * dtype.itemsize)

    def process_input(self, image: torch.Tensor) -> torch.Tensor:
        return image * 2.0 - 1.0

    def process_output(self, image: torch.Tensor) -> torch.Tensor:
        return ((image + 1.0) / 2.0).clamp(0.0, 1.0)

    def get_sd(self) -> dict[str, torch.Tensor]:
        return self.first_stage_model.state_dict()

    def vae_encode_crop_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, H, W, C] center-cropped to multiples of the downscale ratio."""
        r = self.downscale_ratio
        h, w = pixels.shape[1] // r * r, pixels.shape[2] // r * r
        if h == 0 or w == 0:
            raise ValueError(f"image {pixels.shape[2]}x{pixels.shape[1]} is smaller than {r} pixels")
        top, left = (pixels.shape[1] % r) // 2, (pixels.shape[2] % r) // 2
        return pixels[:, top:top + h, left:left + w, :]

    # ---- running the autoencoder --------------------------------------------------------

    def _on_device(self, x: torch.Tensor) -> torch.Tensor:
        """`x` on the VAE's device and dtype; channels-last on the CPU, oneDNN's native layout:
        at image resolution the activations dwarf the weights, so re-laying out the weights
        per convolution is cheaper than re-laying out every activation (about 10% of a
        decode or encode)."""
        x = x.to(self.patcher.device, self.vae_dtype)
        return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.first_stage_model.decode(self._on_device(z))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.first_stage_model.encode(self._on_device(x))

    def _recover(self, fn: Callable[[], torch.Tensor], what: str, fallbacks: list[Callable[[], torch.Tensor]]) -> torch.Tensor:
        return OomRecovery(current_manager(), keep=[self.patcher]).run(fn, what, fallbacks)

    def decode(self, samples_in: torch.Tensor, vae_options: Mapping[str, Any] | None = None) -> torch.Tensor:
        """Latents [B, 4, h, w] -> images [B, 8h, 8w, 3] float32 on the CPU in [0, 1]. Out
        of memory: other models are freed, then tiles of 64 and 32 latents are decoded."""
        self.throw_exception_if_invalid()
        if samples_in.ndim == 5:  # an image VAE decodes the first frame of a video latent
            samples_in = samples_in[:, :, 0]
        load_models([self.patcher], self.memory_used_decode(samples_in.shape, self.vae_dtype))

        def whole() -> torch.Tensor:
            with torch.no_grad():
                return self._to_image(self._decode(samples_in))

        return self._recover(whole, "VAE decode", [lambda: self.decode_tiled(samples_in, 64, 64, 16),
                                                   lambda: self.decode_tiled(samples_in, 32, 32, 8)])

    def decode_tiled(self, samples: torch.Tensor, tile_x: int | None = None, tile_y: int | None = None,
                     overlap: int | None = None, tile_t: int | None = None, overlap_t: int | None = None) -> torch.Tensor:
        """Decode in overlapping tiles of `tile_x` x `tile_y` latents (default 64) blended
        over `overlap` latents (default 16)."""
        self.throw_exception_if_invalid()
        tile = (tile_y or 64, tile_x or 64)
        load_models([self.patcher], self.memory_used_decode((samples.shape[0], 4, *tile), self.vae_dtype))
        with torch.no_grad():
            out = tiled_apply(samples.to(self.patcher.device), self._decode, tile=tile,
                              overlap=16 if overlap is None else overlap, scale=self.upscale_ratio, out_channels=3)
        return self._to_image(out)

    def encode(self, pixel_samples: torch.Tensor) -> torch.Tensor:
        """Images [B, H, W, C>=3] in [0, 1] -> posterior mean [B, 4, H/8, W/8], float32 on the
        CPU; the image is center-cropped to multiples of 8 first. Out of memory: tiles of
        512, then 256 pixels."""
        self.throw_exception_if_invalid()
        x = self._from_image(pixel_samples)
        load_models([self.patcher], self.memory_used_encode(pixel_samples.shape, self.vae_dtype))

        def whole() -> torch.Tensor:
            with torch.no_grad():
                return self._encode(x).float().to(self.output_device).contiguous()  # NCHW for the UNet

        return self._recover(whole, "VAE encode", [lambda: self.encode_tiled(pixel_samples, 512, 512, 64),
                                                   lambda: self.encode_tiled(pixel_samples, 256, 256, 32)])

    def encode_tiled(self, pixel_samples: torch.Tensor, tile_x: int | None = None, tile_y: int | None = None,
                     overlap: int | None = None, tile_t: int | None = None, overlap_t: int | None = None) -> torch.Tensor:
        """Encode in overlapping tiles of `tile_x` x `tile_y` pixels (default 512, multiples
        of 8) blended over `overlap` pixels (default 64)."""
        self.throw_exception_if_invalid()
        tile, overlap = (tile_y or 512, tile_x or 512), 64 if overlap is None else overlap
        r = self.downscale_ratio
        if tile[0] % r or tile[1] % r or overlap % r:
            raise ValueError(f"tile ({tile[1]}x{tile[0]}) and overlap ({overlap}) must be multiples of {r}")
        x = self._from_image(pixel_samples)
        load_models([self.patcher], self.memory_used_encode((x.shape[0], *tile), self.vae_dtype))
        with torch.no_grad():
            out = tiled_apply(x.to(self.patcher.device), self._encode, tile=tile, overlap=overlap, scale=1 / r,
                              out_channels=self.latent_channels)
        return out.to(self.output_device)

    def _to_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] float32 in [0, 1] on the output device."""
        return self.process_output(decoded.float()).movedim(1, -1).to(self.output_device)

    def _from_image(self, image: torch.Tensor) -> torch.Tensor:
        """[B, H, W, C>=3] in [0, 1] -> [B, 3, H', W'] in [-1, 1], center-cropped to multiples."""
        if image.ndim != 4 or image.shape[-1] < 3:
            raise ValueError(f"expected an image batch (B, H, W, 3), got shape {tuple(image.shape)}")
        image = self.vae_encode_crop_pixels(image)[..., :3]
        return self.process_input(image.movedim(-1, 1).float())
