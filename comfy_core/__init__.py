"""ComfyUI-compatible workflow engine for latent diffusion."""

__version__ = "0.1.0"
