"""ComfyUI's per-input model conds (`comfy.conds`): one wrapper per keyword input of the
model call, saying how that input is fitted to a batch, whether two entries' inputs may
share a call, and how they are joined. Our batching (`cond_batch`) works on typed fields;
these classes are the view plugins get of a resolved entry's inputs (`model_conds`) and
what they hand back after slicing or replacing one (`_copy_with`)."""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

log = logging.getLogger(__name__)

MAX_CROSS_ATTN_REPEAT = 4  # longest/shortest token-length ratio that may share a batch


def repeat_to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    """`t` cut or tiled on dim 0 to `batch` rows."""
    if t.shape[0] > batch:
        return t[:batch]
    if t.shape[0] < batch:
        return t.repeat([math.ceil(batch / t.shape[0])] + [1] * (t.ndim - 1))[:batch]
    return t


def cross_attn_batchable(s1: torch.Size, s2: torch.Size) -> bool:
    """Whether token tensors of these shapes can share a batch: same batch size and width,
    token counts within MAX_CROSS_ATTN_REPEAT of their least common multiple."""
    if s1 == s2:
        return True
    return (s1[0] == s2[0] and s1[2] == s2[2]
            and math.lcm(s1[1], s2[1]) // min(s1[1], s2[1]) <= MAX_CROSS_ATTN_REPEAT)


def cat_cross_attn(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate on the batch axis, repeating shorter token sequences up to the LCM length."""
    length = math.lcm(*(t.shape[1] for t in tensors))
    return torch.cat([t.repeat(1, length // t.shape[1], 1) if t.shape[1] < length else t for t in tensors])


class CONDRegular:
    """A tensor input with a batch axis (e.g. the ADM vector `y`)."""

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def _copy_with(self, cond: Any) -> "CONDRegular":
        """The same kind of wrapper around other data (how plugins slice one)."""
        return self.__class__(cond)

    def process_cond(self, batch_size: int, **kwargs: Any) -> "CONDRegular":
        return self._copy_with(repeat_to_batch(self.cond, batch_size))

    def can_concat(self, other: "CONDRegular") -> bool:
        if self.cond.shape != other.cond.shape:
            return False
        if self.cond.device != other.cond.device:
            log.warning("model conds on different devices are not batched together")
            return False
        return True

    def concat(self, others: list["CONDRegular"]) -> Any:
        return torch.cat([self.cond] + [o.cond for o in others])

    def size(self) -> list[int]:
        return list(self.cond.size())

    def __repr__(self) -> str:
        shape = tuple(self.cond.shape) if torch.is_tensor(self.cond) else self.cond
        return f"{type(self).__name__}({shape})"


class CONDNoiseShape(CONDRegular):
    """An input laid out like the latent (`c_concat`): cropped to an entry's area."""

    def process_cond(self, batch_size: int, area: Any = None, **kwargs: Any) -> "CONDNoiseShape":
        data = self.cond
        if area is not None:  # sizes of the spatial dims, then their offsets
            dims = len(area) // 2
            for i in range(dims):
                data = data.narrow(i + 2, area[dims + i], area[i])
        return self._copy_with(repeat_to_batch(data, batch_size))


class CONDCrossAttn(CONDRegular):
    """Cross-attention tokens `[B, T, D]`: token counts may differ within a batch, shorter
    ones repeated up to the least common multiple (at most 4x)."""

    def can_concat(self, other: "CONDRegular") -> bool:
        if not cross_attn_batchable(self.cond.shape, other.cond.shape):
            return False
        if self.cond.device != other.cond.device:
            log.warning("model conds on different devices are not batched together")
            return False
        return True

    def concat(self, others: list["CONDRegular"]) -> torch.Tensor:
        return cat_cross_attn([self.cond] + [o.cond for o in others])


class CONDConstant(CONDRegular):
    """A value that is the same for the whole call (not batched); entries share a call
    only when theirs are equal."""

    def process_cond(self, batch_size: int, **kwargs: Any) -> "CONDConstant":
        return self._copy_with(self.cond)

    def can_concat(self, other: "CONDRegular") -> bool:
        return bool(self.cond == other.cond)

    def concat(self, others: list["CONDRegular"]) -> Any:
        return self.cond

    def size(self) -> list[int]:
        return [1]


class CONDList(CONDRegular):
    """A list of batched tensors, each fitted and joined on its own."""

    def process_cond(self, batch_size: int, **kwargs: Any) -> "CONDList":
        return self._copy_with([repeat_to_batch(c, batch_size) for c in self.cond])

    def can_concat(self, other: "CONDRegular") -> bool:
        return len(self.cond) == len(other.cond) and all(
            a.shape == b.shape for a, b in zip(self.cond, other.cond))

    def concat(self, others: list["CONDRegular"]) -> list[torch.Tensor]:
        return [torch.cat([c] + [o.cond[i] for o in others]) for i, c in enumerate(self.cond)]

    def size(self) -> list[int]:
        """A `[1, width, elements / width]` estimate for memory planning (width: the last
        tensor's second dim)."""
        total, width = 0, 1
        for c in self.cond:
            total += math.prod(c.size())
            if c.ndim > 1:
                width = c.shape[1]
        return [1, width, total // width]
