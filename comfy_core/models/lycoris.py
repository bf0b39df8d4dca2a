"""LyCORIS adapters as weight deltas (Yeh et al. 2023, "Navigating Text-To-Image
Customization: From LyCORIS Fine-Tuning to Model Evaluation", arXiv:2309.14859):

- LoHa, the Hadamard product of two low-rank products (Hyeon-Woo et al. 2021, FedPara,
  arXiv:2108.06098): dW = (w1a @ w1b) * (w2a @ w2b) * alpha / rank.
- LoKr, a Kronecker product whose factors may themselves be low rank:
  dW = kron(w1, w2) (* alpha / rank when a factor is a low-rank pair).
- Full diff: dW = diff, plus an optional bias delta diff_b.

Key names (COMPAT 10.2): `<base>.hada_w1_a` ..., `<base>.lokr_w1[_a|_b]` ...,
`<base>.diff`, `<base>.diff_b`, `<base>.alpha`, where `<base>` is a name the LoRA key maps know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from comfy_core.models.patch_math import WeightAdapter

Tensor = torch.Tensor
LowRank = tuple[Tensor, Tensor]  # (a (rows, r), b (r, cols))


@dataclass(frozen=True)
class MatchedAdapter:
    """One adapter found in a file: the parameter it patches, its delta, and the file keys
    it was built from (for messages and the unmatched-key report)."""

    target: str
    delta: WeightAdapter
    keys: tuple[str, ...]


def tucker(core: Tensor, wa: Tensor, wb: Tensor) -> Tensor:
    """Tucker-2 rebuild: core (r1, r2, kh, kw), wa (r1, out), wb (r2, in) -> (out, in, kh, kw),
    W[p, q, k, l] = sum_ij core[i, j, k, l] * wa[i, p] * wb[j, q]."""
    return torch.einsum("ijkl,jq,ip->pqkl", core, wb, wa)


def _tucker_shape(core: Tensor, wa: Tensor, wb: Tensor) -> tuple[int, ...]:
    if core.ndim != 4 or wa.ndim != 2 or wb.ndim != 2 or core.shape[:2] != (wa.shape[0], wb.shape[0]):
        raise ValueError(f"Tucker core {tuple(core.shape)} does not fit factors {tuple(wa.shape)}, {tuple(wb.shape)}")
    return (wa.shape[1], wb.shape[1], *core.shape[2:])


def _product_shape(a: Tensor, b: Tensor) -> tuple[int, int]:
    """Shape of a.flatten(1) @ b.flatten(1), or a ValueError when the inner dims differ."""
    if a.ndim < 2 or b.ndim < 2 or a.shape[1:].numel() != b.shape[0]:
        raise ValueError(f"factors {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied")
    return (a.shape[0], b.shape[1:].numel())


def _scale(alpha: float | None, rank: int | None) -> float:
    return 1.0 if alpha is None or rank is None else alpha / rank


@dataclass(frozen=True, eq=False)
class LohaDelta(WeightAdapter):
    """LoHa: w1a (out, r), w1b (r, in*kh*kw), w2a, w2b alike; with Tucker cores t1, t2
    (r, r, kh, kw) the factors are wa (r, out), wb (r, in). rank = w1b.shape[0]."""

    w1a: Tensor
    w1b: Tensor
    w2a: Tensor
    w2b: Tensor
    alpha: float | None = None
    t1: Tensor | None = None
    t2: Tensor | None = None

    def __post_init__(self) -> None:
        first, second = self._shape(self.w1a, self.w1b, self.t1), self._shape(self.w2a, self.w2b, self.t2)
        if first != second:
            raise ValueError(f"LoHa halves have different shapes {first} and {second}")

    @staticmethod
    def _shape(a: Tensor, b: Tensor, core: Tensor | None) -> tuple[int, ...]:
        return _product_shape(a, b) if core is None else _tucker_shape(core, a, b)

    def numel(self) -> int:
        return torch.Size(self._shape(self.w1a, self.w1b, self.t1)).numel()

    def delta(self, weight: Tensor) -> Tensor:
        def factor(a: Tensor, b: Tensor, core: Tensor | None) -> Tensor:
            a, b = a.to(weight.device, torch.float32), b.to(weight.device, torch.float32)
            if core is None:
                return (a.flatten(1) @ b.flatten(1)).reshape(weight.shape)  # (out, in*kh*kw)
            return tucker(core.to(weight.device, torch.float32), a, b).reshape(weight.shape)

        prod = factor(self.w1a, self.w1b, self.t1) * factor(self.w2a, self.w2b, self.t2)
        return prod * _scale(self.alpha, self.w1b.shape[0])


@dataclass(frozen=True, eq=False)
class LokrDelta(WeightAdapter):
    """LoKr: w1 (a, c) or a low-rank pair ((a, r), (r, c)); w2 (b, d[, kh, kw]) or a pair
    ((b, r), (r, d*kh*kw)), or with the Tucker core t2 (r, r, kh, kw) a pair ((r, b), (r, d)).
    dW = kron(w1, w2) with a*b = out, c*d = in (w2 carries the kernel)."""

    w1: Tensor | LowRank
    w2: Tensor | LowRank
    alpha: float | None = None
    t2: Tensor | None = None

    def __post_init__(self) -> None:
        if self.t2 is not None and isinstance(self.w2, Tensor):
            raise ValueError("LoKr Tucker core lokr_t2 needs lokr_w2_a and lokr_w2_b")
        self._shapes()

    def _shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(a, c) of w1 and (b, d*kh*kw) of w2, checking that pairs and cores fit."""
        w1 = self.w1 if isinstance(self.w1, Tensor) else None
        if w1 is not None and w1.ndim != 2:
            raise ValueError(f"LoKr lokr_w1 must be 2-D, got {tuple(w1.shape)}")
        s1 = tuple(w1.shape) if w1 is not None else _product_shape(*self.w1)
        if isinstance(self.w2, Tensor):
            s2 = (self.w2.shape[0], self.w2.shape[1:].numel())
        elif self.t2 is not None:
            full = _tucker_shape(self.t2, *self.w2)
            s2 = (full[0], torch.Size(full[1:]).numel())
        else:
            s2 = _product_shape(*self.w2)
        return s1, s2

    def numel(self) -> int:
        (a, c), (b, dk) = self._shapes()
        return a * c * b * dk

    def _rank(self) -> int | None:
        """Inner dim of w2's low-rank pair, else w1's (LyCORIS gives both one rank; where they
        differ ComfyUI uses w2's); None when both factors are full (scale 1)."""
        for factor in (self.w2, self.w1):
            if not isinstance(factor, Tensor):
                return factor[1].shape[0]
        return None

    def delta(self, weight: Tensor) -> Tensor:
        def f32(t: Tensor) -> Tensor:
            return t.to(weight.device, torch.float32)

        w1 = f32(self.w1) if isinstance(self.w1, Tensor) else f32(self.w1[0]) @ f32(self.w1[1])  # (a, c)
        if isinstance(self.w2, Tensor):
            w2 = f32(self.w2)
        elif self.t2 is not None:
            w2 = tucker(f32(self.t2), f32(self.w2[0]), f32(self.w2[1]))  # (b, d, kh, kw)
        else:
            w2 = f32(self.w2[0]) @ f32(self.w2[1]).flatten(1)  # (b, d*kh*kw)
        # kron of (a, c) with (b, d*kh*kw) is (a*b, c*d*kh*kw); its column j*(d*K) + q*K + k
        # equals (j*d + q)*K + k, so it reshapes to (out, in, kh, kw) directly.
        full = torch.kron(w1.contiguous(), w2.flatten(1).contiguous())  # kron needs contiguous inputs
        return full.reshape(weight.shape) * _scale(self.alpha, self._rank())


@dataclass(frozen=True, eq=False)
class DiffDelta(WeightAdapter):
    """Full difference: `diff` has the patched parameter's shape (or at least its size)."""

    diff: Tensor

    def numel(self) -> int:
        return self.diff.numel()

    def delta(self, weight: Tensor) -> Tensor:
        return self.diff.to(weight.device, torch.float32).reshape(weight.shape)


def _get(state: Mapping[str, Tensor], base: str, suffix: str) -> Tensor:
    key = base + suffix
    if key not in state:
        raise ValueError(f"{key} is missing")
    return state[key]


def _alpha(state: Mapping[str, Tensor], base: str) -> float | None:
    alpha = state.get(base + ".alpha")
    return None if alpha is None else float(alpha)


def _loha(state: Mapping[str, Tensor], base: str) -> WeightAdapter:
    parts = [_get(state, base, f".hada_w{i}_{ab}") for i in (1, 2) for ab in "ab"]
    return LohaDelta(*parts, alpha=_alpha(state, base),
                     t1=state.get(base + ".hada_t1"), t2=state.get(base + ".hada_t2"))


def _lokr_factor(state: Mapping[str, Tensor], base: str, i: int) -> Tensor | LowRank:
    full = state.get(f"{base}.lokr_w{i}")
    if full is not None:
        return full
    if f"{base}.lokr_w{i}_a" not in state and f"{base}.lokr_w{i}_b" not in state:
        raise ValueError(f"{base} has neither lokr_w{i} nor lokr_w{i}_a/lokr_w{i}_b")
    return _get(state, base, f".lokr_w{i}_a"), _get(state, base, f".lokr_w{i}_b")


def _lokr(state: Mapping[str, Tensor], base: str) -> WeightAdapter:
    return LokrDelta(_lokr_factor(state, base, 1), _lokr_factor(state, base, 2),
                     alpha=_alpha(state, base), t2=state.get(base + ".lokr_t2"))


def _diff(state: Mapping[str, Tensor], base: str) -> WeightAdapter:
    return DiffDelta(state[base + ".diff"])


def _diff_bias(state: Mapping[str, Tensor], base: str) -> WeightAdapter:
    return DiffDelta(state[base + ".diff_b"])


@dataclass(frozen=True)
class _Algorithm:
    name: str
    suffixes: tuple[str, ...]  # every key suffix the adapter may use
    build: Callable[[Mapping[str, Tensor], str], WeightAdapter]
    bias: bool = False


ALGORITHMS = (
    _Algorithm("LoHa", (".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".hada_t1", ".hada_t2",
                        ".alpha"), _loha),
    _Algorithm("LoKr", (".lokr_w1", ".lokr_w1_a", ".lokr_w1_b", ".lokr_w2", ".lokr_w2_a", ".lokr_w2_b",
                        ".lokr_t2", ".alpha"), _lokr),
    _Algorithm("diff", (".diff",), _diff),
    _Algorithm("diff_b", (".diff_b",), _diff_bias, bias=True),
)


def _bases(state: Mapping[str, Tensor], algo: _Algorithm) -> set[str]:
    """Base names with at least one of `algo`'s own keys (alpha alone marks nothing)."""
    own = tuple(s for s in algo.suffixes if s != ".alpha")
    return {key[: -len(s)] for key in state for s in own if key.endswith(s)}


def parse_lycoris(state: Mapping[str, Tensor], key_map: Mapping[str, str]) -> list[MatchedAdapter]:
    """LoHa, LoKr and diff adapters whose base names are in `key_map` (base -> weight key);
    a bias delta targets the weight key's `.bias`. Raises ValueError naming the key when an
    adapter's tensors are missing or do not fit together."""
    found: list[MatchedAdapter] = []
    for algo in ALGORITHMS:
        for base in sorted(_bases(state, algo)):
            target = key_map.get(base)
            if target is None:
                continue
            try:
                delta = algo.build(state, base)
            except ValueError as err:
                raise ValueError(f"{algo.name} adapter {base}: {err}") from None
            if algo.bias:
                target = target.removesuffix(".weight") + ".bias"
            keys = tuple(base + s for s in algo.suffixes if base + s in state)
            found.append(MatchedAdapter(target, delta, keys))
    return found
