"""Post-processing filters against independent references: scipy.ndimage for the Gaussian
filters and grey morphology, the BT.601 equations for YUV, the published blend-mode
equations, and Pillow plus the published Bayer matrix for quantization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from comfy_core.images import filters, quantize

GEN = torch.Generator().manual_seed(0)


def rand_image(b=2, h=9, w=11, c=3):
    return torch.rand(b, h, w, c, generator=GEN)


def reference_gaussian(size, sigma):
    """The kernel written from its definition: exp(-d^2 / 2 sigma^2) on a [-1, 1] grid."""
    coords = np.linspace(-1.0, 1.0, size)
    d2 = coords[:, None] ** 2 + coords[None, :] ** 2
    k = np.exp(-d2 / (2 * sigma * sigma))
    return k / k.sum()


def per_channel(image, fn):
    arr = image.numpy().astype(np.float64)
    out = np.empty_like(arr)
    for b in range(arr.shape[0]):
        for c in range(arr.shape[-1]):
            out[b, :, :, c] = fn(arr[b, :, :, c])
    return out


@pytest.mark.parametrize("radius,sigma", [(1, 1.0), (3, 0.5)])
def test_blur_is_scipy_correlation_with_a_mirrored_border(radius, sigma):
    image = rand_image()
    kernel = reference_gaussian(2 * radius + 1, sigma)
    expected = per_channel(image, lambda p: ndimage.correlate(p, kernel, mode="mirror"))
    assert np.allclose(filters.blur(image, radius, sigma).numpy(), expected, atol=1e-5)
    assert filters.blur(image, 0, sigma) is image


def test_sharpen_kernel_sums_to_one_and_matches_scipy():
    image = rand_image(c=4)
    radius, sigma, alpha = 2, 1.5, 0.3
    kernel = -10 * alpha * reference_gaussian(5, sigma)
    kernel[2, 2] += 1.0 - kernel.sum()
    assert kernel.sum() == pytest.approx(1.0)
    expected = np.clip(per_channel(image, lambda p: ndimage.correlate(p, kernel, mode="mirror")), 0, 1)
    assert np.allclose(filters.sharpen(image, radius, sigma, alpha).numpy(), expected, atol=1e-5)


def test_filters_name_a_radius_too_big_for_the_image():
    with pytest.raises(ValueError, match="a radius of 5 needs an image larger than 5 pixels"):
        filters.blur(torch.rand(1, 4, 4, 3), 5, 1.0)


@pytest.mark.parametrize("size", [3, 4, 5])
@pytest.mark.parametrize("operation", filters.MORPHOLOGY_OPERATIONS)
def test_morphology_is_scipy_grey_morphology(operation, size):
    image = rand_image(b=1, h=12, w=10)
    # flat square footprint centred at size // 2 (kornia's convention, which ComfyUI's node
    # used); pixels outside the image never win (pad with -max / +max)
    big = np.finfo(np.float64).max

    def dil(p):
        return ndimage.maximum_filter(p, size=(size, size), mode="constant", cval=-big)

    def ero(p):
        return ndimage.minimum_filter(p, size=(size, size), mode="constant", cval=big)

    ref = {"erode": ero, "dilate": dil, "open": lambda p: dil(ero(p)), "close": lambda p: ero(dil(p)),
           "gradient": lambda p: dil(p) - ero(p), "top_hat": lambda p: p - dil(ero(p)),
           "bottom_hat": lambda p: ero(dil(p)) - p}[operation]
    expected = per_channel(image, ref)
    assert np.allclose(filters.morphology(image, operation, size).numpy(), expected, atol=1e-6)


def test_yuv_round_trip_and_bt601():
    image = rand_image()
    y, u, v = filters.rgb_to_yuv(image)
    r, g, b = image.unbind(-1)
    luma = 0.299 * r + 0.587 * g + 0.114 * b  # BT.601
    assert torch.allclose(y[..., 0], luma, atol=1e-6) and torch.equal(y[..., 0], y[..., 2])
    assert torch.allclose(u[..., 0], (b - luma) / 1.772 + 0.5, atol=2e-3)
    assert torch.allclose(v[..., 0], (r - luma) / 1.402 + 0.5, atol=2e-3)
    assert torch.allclose(filters.yuv_to_rgb(y, u, v), image, atol=2e-3)


def test_blend_modes_follow_their_equations():
    a, b = rand_image(), rand_image()
    f = 0.7
    mixed = {"normal": b, "multiply": a * b, "screen": 1 - (1 - a) * (1 - b),
             "overlay": torch.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
             "difference": a - b}
    for mode, m in mixed.items():
        assert torch.allclose(filters.blend(a, b, f, mode), (a * (1 - f) + m * f).clamp(0, 1)), mode
    # soft light (the W3C formula: D(a) = sqrt(a) above 1/4)
    soft = filters.blend(a, b, 1.0, "soft_light")
    d = torch.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, a.sqrt())
    ref = torch.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (d - a))
    assert torch.allclose(soft, ref.clamp(0, 1))
    small = torch.rand(1, 3, 4, 3, generator=GEN)
    assert filters.blend(a, small, 0.5, "normal").shape == a.shape  # resized to image1
    assert filters.blend(rand_image(c=4), a, 1.0, "normal")[..., 3].eq(1).all()  # opaque alpha


def test_bayer_thresholds_are_the_published_matrices():
    b4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]])
    assert np.allclose(quantize.bayer_thresholds(4), (b4 + 0.5) / 16 - 0.5)
    assert np.allclose(quantize.bayer_thresholds(2), (np.array([[0, 2], [3, 1]]) + 0.5) / 4 - 0.5)
    assert sorted(quantize.bayer_thresholds(16).ravel().round(6)) == sorted(
        ((np.arange(256) + 0.5) / 256 - 0.5).round(6))


@pytest.mark.parametrize("dither", quantize.DITHER_MODES)
def test_quantize_limits_the_palette(dither):
    ramp = torch.linspace(0, 1, 32).reshape(1, 1, 32, 1).expand(1, 8, 32, 3).clone()
    out = quantize.quantize(ramp, 4, dither)
    colours = {tuple(p) for p in (out[0] * 255).round().reshape(-1, 3).tolist()}
    assert len(colours) <= 4 and out.shape == ramp.shape
    if dither == "none":
        pil = Image.fromarray((ramp[0] * 255).to(torch.uint8).numpy())
        expected = pil.quantize(palette=pil.quantize(colors=4), dither=Image.Dither.NONE).convert("RGB")
        assert np.array_equal((out[0] * 255).round().to(torch.uint8).numpy(), np.asarray(expected))
    elif dither.startswith("bayer") or dither == "floyd-steinberg":
        # dithering spreads colours: a column mixes palette entries somewhere along the ramp
        assert any(len({tuple(p) for p in out[0, :, x].tolist()}) > 1 for x in range(32))
