"""The MODEL, CLIP and VAE values that nodes pass around.

A handle wraps a module (shared with its clones) plus what is specific to this value: the
patch list (LoRA), the CLIP layer choice. The memory manager drives every handle through
one protocol: `model_size()`, `loaded_size()`, `load(device, budget_bytes)`, `offload()`,
`device`. Call `load` before running a handle's module: it is cheap when nothing changed
and it is the moment this handle's patches (and not a clone's) are put in place.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

from comfy_core.memory.recovery import OomRecovery
from comfy_core.models.clip import TextEncoder
from comfy_core.models.family import ModelFamily
from comfy_core.models.vae import AutoencoderKL
from comfy_core.models.vae_tiled import tiled_apply
from comfy_core.models.weights import ManagedWeights, PatchSet, WeightDelta
from comfy_core.text.tokenizer import ClipTokenizer


class ManagedHandle:
    """Memory protocol and patch list shared by the three handle kinds."""

    def __init__(self, weights: ManagedWeights) -> None:
        self.weights = weights
        self.patches: tuple[PatchSet, ...] = ()

    @property
    def device(self) -> torch.device:
        return self.weights.device

    @property
    def offload_device(self) -> torch.device:
        return self.weights.offload_device

    @property
    def compute_dtype(self) -> torch.dtype:
        """dtype the module computes in (inputs should be cast to it)."""
        return self.weights.compute_dtype or self.weights.storage_dtype()

    def model_size(self) -> int:
        """Bytes of all weights and buffers."""
        return self.weights.model_size()

    def loaded_size(self) -> int:
        """Bytes resident on the load device (0 when offloaded)."""
        return self.weights.loaded_bytes

    def load(self, device: torch.device | str, budget_bytes: int | None = None) -> None:
        """Move weights to `device` (only `budget_bytes` of them, streaming the rest per layer)
        and put this handle's patches in place."""
        self.weights.load(torch.device(device), budget_bytes, self.patches)

    def offload(self) -> None:
        self.weights.offload()

    def shares_weights(self, other: "ManagedHandle") -> bool:
        """True for clones of one model (they occupy memory once)."""
        return self.weights is other.weights

    def patchable_keys(self) -> set[str]:
        return {k for k, _ in self.weights.module.named_parameters()}

    def add_patches(self, deltas: Mapping[str, WeightDelta], strength: float = 1.0) -> list[str]:
        """Add deltas for the parameters that exist; returns the keys accepted. Takes effect
        at the next `load`."""
        known = self.patchable_keys()
        accepted = {k: d for k, d in deltas.items() if k in known}
        if accepted and strength != 0.0:
            self.patches = self.patches + (PatchSet(accepted, strength),)
        return sorted(accepted)

    def remove_patches(self) -> None:
        self.patches = ()

    def clone(self) -> "ManagedHandle":
        """Same module and weights, an independent patch list (and settings)."""
        twin = copy.copy(self)
        twin.patches = tuple(self.patches)
        return twin


class ModelHandle(ManagedHandle):
    """MODEL: the UNet and its family. `model_sampling` is built and cached by the sampling
    code (this package never imports it)."""

    def __init__(self, unet: nn.Module, family: ModelFamily, weights: ManagedWeights | None = None) -> None:
        super().__init__(weights or ManagedWeights(unet))
        self.unet = unet
        self.family = family
        self.model_sampling: Any = None


class ClipHandle(ManagedHandle):
    """CLIP: the family's text encoders by name ("clip_l", "clip_h", "clip_g"), computed in
    float32 whatever their storage dtype, plus the CLIPSetLastLayer choice."""

    def __init__(self, encoders: Mapping[str, TextEncoder], family: ModelFamily, weights: ManagedWeights | None = None) -> None:
        self.encoders = encoders if isinstance(encoders, nn.ModuleDict) else nn.ModuleDict(dict(encoders))
        super().__init__(weights or ManagedWeights(self.encoders, compute_dtype=torch.float32))
        self.family = family
        self.layer_idx: int | None = None
        # Where to run regardless of the memory manager's text-encoder device (CLIPLoader
        # device="cpu"); None lets the manager choose.
        self.load_device: torch.device | None = None
        self._shared: dict[str, Any] = {}  # clones keep the reference: one tokenizer for all

    @property
    def tokenizer(self) -> ClipTokenizer:
        """The CLIP BPE tokenizer, built on first use (a quarter second) and shared by clones."""
        if "tokenizer" not in self._shared:
            self._shared["tokenizer"] = ClipTokenizer()
        return self._shared["tokenizer"]

    def set_last_layer(self, layer_idx: int) -> None:
        """CLIPSetLastLayer: -1 last, -2 penultimate, ... for every encoder."""
        if layer_idx >= 0:
            raise ValueError(f"clip layer index must be negative (-1 = last), got {layer_idx}")
        self.layer_idx = layer_idx

    def encode(
        self, name: str, token_ids: torch.Tensor, inputs_embeds: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encode (N, 77) chunks with encoder `name` at the family's or chosen layer
        (COMPAT 9.7). Returns float32 (hidden (N, 77, D), pooled (N, P)) on the CPU."""
        spec = self.family.encoder(name)
        layer = self.layer_idx if self.layer_idx is not None else spec.default_layer
        with torch.no_grad():
            ids = token_ids.to(self.device)
            hidden, pooled = self.encoders[name].encode_tokens(ids, layer, spec.final_norm, inputs_embeds)
        return hidden.cpu(), None if pooled is None else pooled.cpu()


class VAEHandle(ManagedHandle):
    """VAE: pixels (B, H, W, 3) in [0, 1] <-> raw latents (B, 4, H/8, W/8) (COMPAT 9.1)."""

    def __init__(self, vae: AutoencoderKL, weights: ManagedWeights | None = None) -> None:
        super().__init__(weights or ManagedWeights(vae))
        self.vae = vae

    @property
    def downscale(self) -> int:
        return self.vae.config.downscale

    def _on_device(self, x: torch.Tensor) -> torch.Tensor:
        """`x` on the VAE's device and dtype; channels-last on the CPU, oneDNN's native layout:
        at image resolution the activations dwarf the weights, so re-laying out the weights
        per convolution is cheaper than re-laying out every activation (about 10% of a
        decode or encode)."""
        x = x.to(self.device, self.compute_dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else x

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(self._on_device(z))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(self._on_device(x))

    def decode(self, latent: torch.Tensor, recovery: OomRecovery | None = None) -> torch.Tensor:
        """(B, 4, h, w) -> (B, 8h, 8w, 3) float32 CPU in [0, 1]. Out of memory is recovered
        from by `recovery` (default: no manager): other models are freed and the latent is
        decoded in tiles of 64, then 32 latents."""
        recovery = recovery or OomRecovery(None, keep=[self])

        def whole() -> torch.Tensor:
            with torch.no_grad():
                return _to_image(self._decode(latent))

        return recovery.run(whole, "VAE decode", [lambda: self.decode_tiled(latent, 64, 16),
                                                  lambda: self.decode_tiled(latent, 32, 8)])

    def decode_tiled(self, latent: torch.Tensor, tile: int = 64, overlap: int = 16) -> torch.Tensor:
        """Decode in overlapping `tile`-latent squares blended over `overlap` latents."""
        with torch.no_grad():
            out = tiled_apply(latent.to(self.device), self._decode, tile=tile, overlap=overlap,
                              scale=self.downscale, out_channels=3)
        return _to_image(out)

    def encode(self, image: torch.Tensor, recovery: OomRecovery | None = None) -> torch.Tensor:
        """(B, H, W, 3) in [0, 1] -> posterior mean (B, 4, H/8, W/8), float32 CPU; the image
        is center-cropped to multiples of 8 first. Out of memory: tiles of 512, then 256 px."""
        recovery = recovery or OomRecovery(None, keep=[self])
        x = _from_image(image, self.downscale)

        def whole() -> torch.Tensor:
            with torch.no_grad():
                return self._encode(x).float().cpu().contiguous()  # NCHW for the UNet, whatever the VAE's layout

        return recovery.run(whole, "VAE encode", [lambda: self.encode_tiled(image, 512, 64),
                                                  lambda: self.encode_tiled(image, 256, 32)])

    def encode_tiled(self, image: torch.Tensor, tile: int = 512, overlap: int = 64) -> torch.Tensor:
        """Encode in overlapping `tile`-pixel squares (multiples of 8) blended over `overlap`."""
        if tile % self.downscale or overlap % self.downscale:
            raise ValueError(f"tile ({tile}) and overlap ({overlap}) must be multiples of {self.downscale}")
        x = _from_image(image, self.downscale).to(self.device)
        with torch.no_grad():
            out = tiled_apply(x, self._encode, tile=tile, overlap=overlap,
                              scale=1 / self.downscale, out_channels=self.vae.config.embed_dim)
        return out.cpu()


def _to_image(decoded: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) float32 CPU in [0, 1]."""
    return ((decoded.float() + 1.0) / 2.0).clamp(0.0, 1.0).movedim(1, -1).cpu()


def _from_image(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """(B, H, W, C>=3) in [0, 1] -> (B, 3, H', W') in [-1, 1], center-cropped to multiples."""
    if image.ndim != 4 or image.shape[-1] < 3:
        raise ValueError(f"expected an image batch (B, H, W, 3), got shape {tuple(image.shape)}")
    h, w = image.shape[1], image.shape[2]
    nh, nw = h // multiple * multiple, w // multiple * multiple
    if nh == 0 or nw == 0:
        raise ValueError(f"image {w}x{h} is smaller than {multiple} pixels")
    top, left = (h - nh) // 2, (w - nw) // 2
    image = image[:, top : top + nh, left : left + nw, :3]
    return image.movedim(-1, 1).float() * 2.0 - 1.0
