"""Model code: families as data, the LDM UNet, the KL VAE, CLIP text-encoder wrappers, LoRA
patching and the handles (MODEL / CLIP / VAE values) that nodes pass between them."""
