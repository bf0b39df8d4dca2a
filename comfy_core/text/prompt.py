"""Prompt weights and 77-token chunking (COMPAT 9.7).

Weight syntax: `(x)` multiplies the weight by 1.1 (nesting compounds), `(x:w)` sets it to
w, `\\(` and `\\)` are literal parentheses. `embedding:NAME` (at a segment start or after a
space/newline) inserts a textual-inversion embedding, one vector per token slot.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

import torch

from comfy_core.text.tokenizer import BOS_ID, EOS_ID, ClipTokenizer

log = logging.getLogger(__name__)

MAX_LENGTH = 77
MAX_WORD_LENGTH = 8  # segments at least this long may be split across chunks
EMBEDDING_PREFIX = "embedding:"
_OPEN, _CLOSE = "\0\2", "\0\1"  # placeholders for escaped parentheses

EmbeddingLookup = Callable[[str], "torch.Tensor | None"]  # name -> [n, dim] or None


def parse_weights(text: str, weight: float = 1.0) -> list[tuple[str, float]]:
    """Split `text` into (segment, weight) pairs by balanced parentheses."""
    text = text.replace("\\)", _CLOSE).replace("\\(", _OPEN)
    return [(seg.replace(_CLOSE, ")").replace(_OPEN, "("), w) for seg, w in _weights(text, weight)]


def _top_level_groups(text: str) -> list[str]:
    """Top-level pieces: plain runs and parenthesised groups (parentheses kept)."""
    groups, current, depth = [], "", 0
    for ch in text:
        if ch == "(":
            if depth == 0 and current:
                groups.append(current)
                current = ""
            current += ch
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                groups.append(current + ")")
                current = ""
            else:
                current += ch
        else:
            current += ch
    if current:
        groups.append(current)
    return groups


def _weights(text: str, weight: float) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for group in _top_level_groups(text):
        if len(group) >= 2 and group[0] == "(" and group[-1] == ")":
            inner, inner_weight = group[1:-1], weight * 1.1
            colon = inner.rfind(":")
            if colon > 0:
                try:
                    inner_weight = float(inner[colon + 1 :])
                    inner = inner[:colon]
                except ValueError:
                    pass
            out += _weights(inner, inner_weight)
        else:
            out.append((group, weight))
    return out


@dataclass(frozen=True)
class EmbeddingInjection:
    """Place `vector` into the input embeddings at (chunk, position)."""

    chunk: int
    position: int
    vector: torch.Tensor  # [dim]


@dataclass(frozen=True)
class TokenizedPrompt:
    """Token ids [n, 77] with per-token weights, plus embedding vectors to inject. Token
    slots that hold an embedding carry the pad id."""

    ids: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[float, ...], ...]
    injections: tuple[EmbeddingInjection, ...] = ()
    pad_token: int = EOS_ID




def _segment_tokens(
    segment: str, tokenizer: ClipTokenizer, lookup: EmbeddingLookup | None, dim: int | None
) -> list[list]:
    """Token groups of one weighted segment: text pieces and embeddings, in order."""
    pieces = re.split(f" {EMBEDDING_PREFIX}|\n{EMBEDDING_PREFIX}", segment)
    words = [pieces[0]] + [EMBEDDING_PREFIX + p for p in pieces[1:]]
    groups: list[list] = []
    for word in (w for w in words if w):
        if word.startswith(EMBEDDING_PREFIX) and lookup is not None:
            vectors, word = _embedding(word[len(EMBEDDING_PREFIX) :].strip("\n"), lookup, dim)
            if vectors is not None:
                groups.append(list(vectors))
            if not word:
                continue
        groups.append(tokenizer.encode(word))
    return groups


def _embedding(spec: str, lookup: EmbeddingLookup, dim: int | None) -> tuple[torch.Tensor | None, str]:
    """(vectors [n, dim] or None, leftover text) for `NAME rest...`; a trailing comma on
    the name is tolerated."""
    parts = spec.split()
    name, leftover = (parts[0], " ".join(parts[1:])) if parts else ("", "")
    embed = lookup(name)
    if embed is None and name.rstrip(",") != name and name.rstrip(","):
        stripped = name.rstrip(",")
        embed, leftover = lookup(stripped), f"{name[len(stripped):]} {leftover}"
    if embed is None:
        log.warning("embedding:%s does not exist, ignoring", name)
        return None, leftover
    embed = embed.reshape(-1, embed.shape[-1])
    if dim is not None and embed.shape[-1] != dim:
        log.warning("embedding:%s has width %d, the text encoder needs %d; ignoring", name, embed.shape[-1], dim)
        return None, leftover
    return embed, leftover


def tokenize_prompt(
    text: str,
    tokenizer: ClipTokenizer,
    *,
    pad_token: int = EOS_ID,
    embedding_lookup: EmbeddingLookup | None = None,
    embedding_dim: int | None = None,
) -> TokenizedPrompt:
    """Weighted segments -> chunks of [BOS] + ≤75 tokens + [EOS] + pads. A segment of
    ≥ 8 tokens is split at the chunk boundary; a shorter one that does not fit moves
    whole to the next chunk."""
    groups = [
        [(t, w) for t in group]
        for segment, w in parse_weights(text)
        for group in _segment_tokens(segment, tokenizer, embedding_lookup, embedding_dim)
    ]
    chunks: list[list] = [[(BOS_ID, 1.0)]]
    room = MAX_LENGTH - 1  # one slot stays for EOS
    for group in groups:
        is_large = len(group) >= MAX_WORD_LENGTH
        while group:
            batch = chunks[-1]
            if len(batch) + len(group) <= room:
                batch.extend(group)
                break
            remaining = room - len(batch)
            if is_large:
                batch.extend(group[:remaining])
                group = group[remaining:]
            batch.append((EOS_ID, 1.0))
            batch.extend([(pad_token, 1.0)] * (MAX_LENGTH - len(batch)))
            chunks.append([(BOS_ID, 1.0)])
    last = chunks[-1]
    last.append((EOS_ID, 1.0))
    last.extend([(pad_token, 1.0)] * (MAX_LENGTH - len(last)))
    return _finish(chunks, pad_token)


def _finish(chunks: list[list], pad_token: int) -> TokenizedPrompt:
    return prompt_from_chunks(chunks, pad_token)


def prompt_from_chunks(chunks: list[list], pad_token: int) -> TokenizedPrompt:
    """ComfyUI's token chunks (lists of `(token, weight[, word_id])`, a token being an id or
    an embedding vector) -> TokenizedPrompt; vector slots carry the pad id."""
    ids, weights, injections = [], [], []
    for c, chunk in enumerate(chunks):
        row = []
        for p, pair in enumerate(chunk):
            tok = pair[0]
            if torch.is_tensor(tok):
                injections.append(EmbeddingInjection(c, p, tok))
                row.append(pad_token)
            else:
                row.append(int(tok))
        ids.append(tuple(row))
        weights.append(tuple(float(pair[1]) for pair in chunk))
    return TokenizedPrompt(tuple(ids), tuple(weights), tuple(injections), pad_token)


def prompt_to_chunks(prompt: TokenizedPrompt, word_ids: bool = False) -> list[list[tuple]]:
    """TokenizedPrompt -> ComfyUI's token chunks; embedding slots hold their vectors. With
    `word_ids`, each pair gets a third element: 0 for BOS/EOS/padding, else the 1-based
    index of the run of text tokens or embedding vectors it belongs to."""
    vectors = {(i.chunk, i.position): i.vector for i in prompt.injections}
    special = {BOS_ID, EOS_ID, prompt.pad_token}
    out, word = [], 0
    for c, (row, wrow) in enumerate(zip(prompt.ids, prompt.weights)):
        chunk, previous = [], None
        for p, (tok, w) in enumerate(zip(row, wrow)):
            value = vectors.get((c, p), tok)
            kind = "vector" if torch.is_tensor(value) else ("special" if tok in special else "text")
            if kind != "special" and (kind, w) != previous:
                word += 1
            previous = None if kind == "special" else (kind, w)
            chunk.append((value, w, 0 if kind == "special" else word) if word_ids else (value, w))
        out.append(chunk)
    return out
