"""Pixels in and out: tensor<->PIL conversion, PNG metadata, LoadImage decoding rules,
resizing shared by image and latent nodes, mask operations and latent previews.

Submodules are imported directly (`from comfy_core.images import convert`) so that using
one does not pay for the others.
"""
