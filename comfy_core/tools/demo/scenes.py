"""Procedural captioned scenes for the demo model: one or two flat-coloured shapes
(circle, square, triangle) on a plain background, 64x64 RGB, drawn with 2x supersampling.

Everything is a pure function of a seeded `torch.Generator`, so the data set (and with it
the trained checkpoint) is reproducible without any download.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import torch
import torch.nn.functional as F

SIZE = 64
SUPERSAMPLE = 2
SHAPES = ("circle", "square", "triangle")
PALETTE = MappingProxyType({
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 215, 40),
    "purple": (140, 50, 180),
    "orange": (245, 140, 30),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
})
SHAPE_COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white")
BACKGROUNDS = ("white", "black", "gray", "blue", "green", "yellow")


@dataclass(frozen=True)
class Scene:
    """What one picture shows: `centres` and `radius` are in pixels of the 64x64 image."""

    shape: str
    colour: str
    background: str
    centres: tuple[tuple[float, float], ...]
    radius: float


def shape_mask(shape: str, cx: float, cy: float, r: float, size: int = SIZE) -> torch.Tensor:
    """Anti-aliased coverage [size, size] in [0, 1] of one shape (pixel-centre sampling on a
    SUPERSAMPLE-times finer grid, then box-averaged)."""
    n = size * SUPERSAMPLE
    coords = (torch.arange(n, dtype=torch.float32) + 0.5) / SUPERSAMPLE
    y, x = coords[:, None], coords[None, :]  # (n, 1), (1, n)
    dx, dy = x - cx, y - cy
    if shape == "circle":
        inside = dx * dx + dy * dy <= r * r
    elif shape == "square":
        half = 0.85 * r
        inside = (dx.abs() <= half) & (dy.abs() <= half)
    elif shape == "triangle":
        top, bottom = -r, 0.75 * r  # apex up; half-width grows linearly to r at the base
        inside = (dy >= top) & (dy <= bottom) & (dx.abs() <= (dy - top) / (bottom - top) * r)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    return F.avg_pool2d(inside.float()[None, None], SUPERSAMPLE)[0, 0]


def draw(scene: Scene, size: int = SIZE) -> torch.Tensor:
    """The scene as a (3, size, size) float image in [0, 1]."""
    bg = torch.tensor(PALETTE[scene.background], dtype=torch.float32)[:, None, None] / 255
    fg = torch.tensor(PALETTE[scene.colour], dtype=torch.float32)[:, None, None] / 255
    cover = torch.zeros(size, size)
    for cx, cy in scene.centres:
        cover = torch.maximum(cover, shape_mask(scene.shape, cx, cy, scene.radius, size))
    return bg * (1 - cover) + fg * cover  # (3, H, W)


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _choice(gen: torch.Generator, options: tuple[str, ...]) -> str:
    return options[int(torch.randint(len(options), (), generator=gen))]


def _centres(gen: torch.Generator, count: int, r: float) -> tuple[tuple[float, float], ...]:
    """`count` centres keeping every shape inside the frame and apart from the others."""
    lo, hi = r + 2, SIZE - r - 2
    while True:
        pts = tuple((_uniform(gen, lo, hi), _uniform(gen, lo, hi)) for _ in range(count))
        if count == 1 or ((pts[0][0] - pts[1][0]) ** 2 + (pts[0][1] - pts[1][1]) ** 2) ** 0.5 > 2 * r + 3:
            return pts


def random_scene(gen: torch.Generator) -> Scene:
    """One scene: shape, a shape colour unlike the background, one or two copies."""
    shape = _choice(gen, SHAPES)
    background = _choice(gen, BACKGROUNDS)
    colour = _choice(gen, tuple(c for c in SHAPE_COLOURS if c != background))
    count = 1 + int(torch.randint(2, (), generator=gen))
    radius = _uniform(gen, 11, 17) if count == 1 else _uniform(gen, 8, 12)
    return Scene(shape, colour, background, _centres(gen, count, radius), radius)


def caption(scene: Scene, gen: torch.Generator) -> str:
    """A caption naming what is drawn; the colour (10 %) or background (30 %) may be left
    out, so prompts that name less than everything are in the training distribution."""
    colour = "" if float(torch.rand((), generator=gen)) < 0.1 else scene.colour + " "
    if len(scene.centres) == 1:
        text = f"a {colour}{scene.shape}"
    else:
        text = f"two {colour}{scene.shape}s"
    if float(torch.rand((), generator=gen)) >= 0.3:
        text += f" on a {scene.background} background"
    return text


def make_scenes(count: int, seed: int) -> tuple[list[Scene], torch.Tensor]:
    """`count` random scenes and their pixels (count, 3, 64, 64) in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    scenes = [random_scene(gen) for _ in range(count)]
    images = torch.stack([draw(s) for s in scenes]) * 2 - 1
    return scenes, images
