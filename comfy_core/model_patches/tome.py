"""Token Merging for Stable Diffusion (Bolya & Hoffman 2023, "Token Merging for Fast Stable
Diffusion"): before self-attention at the full-resolution level, r of the tokens are
merged into their most similar neighbours by bipartite soft matching, and copied back out
after it. As TomePatchModel patches it: the queries are merged (keys and values stay
whole), the attention output is unmerged.

Bipartite soft matching (section 3 of the paper): the tokens are split into destinations
(one drawn at random in each sy x sx cell of the token grid) and sources (the rest); each
source finds its most cosine-similar destination, and the r sources with the highest
similarity are averaged into their destinations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

Merge = Callable[[torch.Tensor], torch.Tensor]
TOME_KEY = "tome_unmerge"
STRIDE = 2  # sx = sy = 2: one destination per 2x2 cell


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def split_indices(w: int, h: int, sx: int, sy: int, generator: torch.Generator | None,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(source indices [1, N−D, 1], destination indices [1, D, 1]) into the h·w tokens: one
    destination per full sy x sx cell (random, or the top-left one without a generator);
    tokens outside the full cells are sources."""
    hsy, wsx = h // sy, w // sx
    if generator is None:
        pick = torch.zeros(hsy, wsx, 1, dtype=torch.int64)
    else:
        pick = torch.randint(sy * sx, size=(hsy, wsx, 1), device=generator.device, generator=generator).cpu()
    cells = torch.zeros(hsy, wsx, sy * sx, dtype=torch.int64)
    cells.scatter_(2, pick, -torch.ones_like(pick))  # -1 marks the destination of a cell
    grid = torch.zeros(h, w, dtype=torch.int64)
    grid[: hsy * sy, : wsx * sx] = cells.view(hsy, wsx, sy, sx).transpose(1, 2).reshape(hsy * sy, wsx * sx)
    order = grid.reshape(1, -1, 1).argsort(dim=1).to(device)  # destinations (-1) first
    return order[:, hsy * wsx:], order[:, : hsy * wsx]


def bipartite_soft_matching(metric: torch.Tensor, w: int, h: int, r: int,
                            generator: torch.Generator | None = None) -> tuple[Merge, Merge]:
    """(merge, unmerge) for tokens [B, N, C] on an h x w grid, removing r of them."""
    b, n, _ = metric.shape
    if r <= 0 or w == 1 or h == 1:
        return _identity, _identity
    src_idx, dst_idx = split_indices(w, h, STRIDE, STRIDE, generator, metric.device)
    n_dst = dst_idx.shape[1]

    def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = x.shape[-1]
        return (torch.gather(x, 1, src_idx.expand(b, n - n_dst, c)), torch.gather(x, 1, dst_idx.expand(b, n_dst, c)))

    with torch.no_grad():
        a, d = split(metric / metric.norm(dim=-1, keepdim=True))
        best, best_dst = (a @ d.transpose(-1, -2)).max(dim=-1)  # [B, N−D]
        r = min(a.shape[1], r)
        ranked = best.argsort(dim=-1, descending=True)[..., None]
        kept, merged = ranked[:, r:], ranked[:, :r]  # source positions
        merged_into = torch.gather(best_dst[..., None], 1, merged)

    def merge(x: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        src, dst = split(x)
        c = x.shape[-1]
        unm = torch.gather(src, 1, kept.expand(b, kept.shape[1], c))
        moved = torch.gather(src, 1, merged.expand(b, r, c))
        return torch.cat([unm, dst.scatter_reduce(1, merged_into.expand(b, r, c), moved, reduce=mode)], dim=1)

    def unmerge(x: torch.Tensor) -> torch.Tensor:
        n_kept, c = kept.shape[1], x.shape[-1]
        unm, dst = x[:, :n_kept], x[:, n_kept:]
        out = torch.zeros(b, n, c, device=x.device, dtype=x.dtype)
        src_of = lambda pos: torch.gather(src_idx.expand(b, -1, 1), 1, pos)  # noqa: E731 (grid index)
        out.scatter_(1, dst_idx.expand(b, n_dst, c), dst)
        out.scatter_(1, src_of(kept).expand(b, n_kept, c), unm)
        out.scatter_(1, src_of(merged).expand(b, r, c), torch.gather(dst, 1, merged_into.expand(b, r, c)))
        return out

    return merge, unmerge


def tome_functions(x: torch.Tensor, ratio: float, original_shape: list,
                   generator: torch.Generator | None) -> tuple[Merge, Merge]:
    """Merge/unmerge for tokens x [B, N, C] when they are at the latent's own resolution
    (ToMe for SD merges only there); identities elsewhere."""
    _, _, oh, ow = original_shape
    downsample = int(math.ceil(math.sqrt((oh * ow) // x.shape[1])))
    if downsample > 1:
        return _identity, _identity
    return bipartite_soft_matching(x, int(math.ceil(ow / downsample)), int(math.ceil(oh / downsample)),
                                   int(x.shape[1] * ratio), generator)


@dataclass
class TomeMerge:
    """attn1_patch: merge the queries (by their own similarity); the unmerge waits in the
    block's extra options for `tome_unmerge`. Destinations are drawn from a generator
    seeded per call with a counter that restarts each sampling run (see `to`)."""

    ratio: float
    counter: int = field(default=0)

    def to(self, target: Any) -> "TomeMerge":
        return replace(self, counter=0)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict) -> tuple:
        self.counter += 1
        generator = torch.Generator(device="cpu").manual_seed(self.counter)
        merge, unmerge = tome_functions(q, self.ratio, extra["original_shape"], generator)
        extra[TOME_KEY] = unmerge
        return merge(q), k, v


def tome_unmerge(out: torch.Tensor, extra: dict) -> torch.Tensor:
    """attn1_output_patch: copy merged tokens back out."""
    return extra.pop(TOME_KEY, _identity)(out)
