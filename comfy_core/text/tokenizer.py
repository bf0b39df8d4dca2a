"""CLIP byte-level BPE tokenizer (Radford et al. 2021) on the bundled vocabulary, with the
text cleanup that transformers' CLIPTokenizer applies when ftfy is absent (control
characters dropped, whitespace collapsed, CJK characters spaced, NFC, lowercase)."""

from __future__ import annotations

import functools
import gzip
import unicodedata
from importlib import resources

import regex

BOS_ID = 49406
EOS_ID = 49407
_SPECIALS = {"<|startoftext|>": BOS_ID, "<|endoftext|>": EOS_ID}
_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_MERGE_COUNT = 49152 - 256 - 2


def byte_alphabet() -> dict[int, str]:
    """Each byte -> a printable unicode character: printable Latin-1 bytes map to
    themselves, the rest to code points from 256 upwards in byte order. The insertion
    order (printable bytes first) is the order of the first 256 vocabulary entries."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in keep}
    for extra, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + extra)
    return table


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def clean_text(text: str) -> str:
    """Drop control characters, turn whitespace into spaces, space out CJK ideographs,
    NFC-normalise, lowercase, and join the whitespace-separated words with one space."""
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            chars.append(" ")
        elif unicodedata.category(ch).startswith("C"):
            continue
        elif _is_cjk(cp):
            chars.append(f" {ch} ")
        else:
            chars.append(ch)
    words = unicodedata.normalize("NFC", "".join(chars)).split()
    return " ".join(w if w in _SPECIALS else w.lower() for w in words)


class ClipTokenizer:
    """Text -> CLIP token ids (without BOS/EOS). Loads the vocabulary once per instance."""

    def __init__(self, vocab_gz: bytes | None = None) -> None:
        if vocab_gz is None:
            vocab_gz = resources.files("comfy_core.text").joinpath("data/bpe_simple_vocab_16e6.txt.gz").read_bytes()
        lines = gzip.decompress(vocab_gz).decode("utf-8").split("\n")[1 : _MERGE_COUNT + 1]
        merges = [tuple(line.split()) for line in lines]
        self._bytes = byte_alphabet()
        base = list(self._bytes.values())
        vocab = base + [v + "</w>" for v in base] + ["".join(m) for m in merges] + list(_SPECIALS)
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.decoder = {i: tok for tok, i in self.encoder.items()}
        self._ranks = {m: i for i, m in enumerate(merges)}
        self._byte_decoder = {c: b for b, c in self._bytes.items()}
        self.bpe = functools.lru_cache(maxsize=8192)(self._bpe)

    def _bpe(self, token: str) -> tuple[str, ...]:
        """Greedy lowest-rank pair merging (Sennrich et al. 2016) of one pre-token."""
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[k], word[k + 1]) for k in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self._ranks.get(p, float("inf")))
            if best not in self._ranks:
                break
            merged, k = [], 0
            while k < len(word):
                if k < len(word) - 1 and (word[k], word[k + 1]) == best:
                    merged.append(word[k] + word[k + 1])
                    k += 2
                else:
                    merged.append(word[k])
                    k += 1
            word = merged
        return tuple(word)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in _PATTERN.findall(clean_text(text)):
            if piece in _SPECIALS:
                ids.append(_SPECIALS[piece])
                continue
            mapped = "".join(self._bytes[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(mapped))
        return ids

    def decode(self, ids: list[int]) -> str:
        text = "".join(self.decoder[i] for i in ids)
        raw = bytearray(self._byte_decoder[c] for c in text if c in self._byte_decoder)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ").strip()
