"""Textual-inversion embeddings (Gal et al. 2022): find a file by name in the embeddings
folders (and their subfolders) and read its vectors in the model-key (`clip_l`/`clip_g`/
`clip_h`), `bundle_emb.*` or single-tensor form.

Only safetensors files are read. ComfyUI also unpickles `.pt`/`.bin` embeddings; here they
are found (so the error can name them) and refused like every other pickle: unpickling can
run code, and torch's restricted `weights_only` unpickler has had bypasses."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import torch
from safetensors import SafetensorError

from comfy_core.text.prompt import EmbeddingLookup

log = logging.getLogger(__name__)

EXTENSIONS = (".safetensors", ".pt", ".bin")
SAFE_SUFFIXES = (".safetensors", ".sft")


class EmbeddingError(ValueError):
    """An embedding file that is refused; the message names the file and what to do."""


def find_embedding(name: str, dirs: Sequence[str | os.PathLike]) -> Path | None:
    """The first file called `name` (or name + a known extension) in `dirs` or any of their
    subfolders; names that would escape a folder are refused."""
    for base in dirs:
        root = Path(base).resolve()
        if not root.is_dir():
            continue
        folders = [root] + sorted(p for p in root.rglob("*") if p.is_dir())
        for folder in folders:
            candidate = (folder / name).resolve()
            if os.path.commonpath([folder, candidate]) != str(folder):
                continue
            for path in [candidate] + [candidate.with_name(candidate.name + ext) for ext in EXTENSIONS]:
                if path.is_file():
                    return path
    return None


def refuse_unsafe(path: Path) -> None:
    """Raise EmbeddingError unless `path` is a safetensors file."""
    suffix = path.suffix.lower()
    if suffix in SAFE_SUFFIXES:
        return
    kind = f"a pickle file ({suffix})" if suffix in (".pt", ".bin", ".pth", ".ckpt", ".pkl") else \
        f"not a safetensors file ({suffix or 'no extension'})"
    raise EmbeddingError(
        f"embedding {path.name} is {kind}; only .safetensors embeddings are loaded, because "
        "unpickling a file can run arbitrary code. Convert it once where you trust it (load it with "
        "torch and write its tensors with safetensors.torch.save_file) and put the .safetensors "
        "file in the embeddings folder")


def _read(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


def vectors_from(data: dict[str, torch.Tensor], key: str | None) -> torch.Tensor | None:
    """[n, dim] vectors from a safetensors embedding's tensors: the encoder's own key
    (`clip_l`, `clip_g`, `clip_h`), else a bundled LoRA embedding (`bundle_emb.*`), else the
    first tensor (A1111 files converted to safetensors hold a single one)."""
    if not data:
        return None
    if key is not None and key in data:
        return data[key]
    bundled = [v for k, v in data.items() if k.startswith("bundle_emb.") and ".string_to_param." in k]
    if bundled:
        return bundled[0]
    return next(iter(data.values()))


def load_embedding(path: Path, key: str | None = None) -> torch.Tensor | None:
    """Vectors [n, dim] from one safetensors file, or None (with a warning) when it is
    damaged. Any other kind of file raises EmbeddingError (see refuse_unsafe)."""
    refuse_unsafe(path)
    try:
        data = _read(path)
    except (SafetensorError, OSError) as exc:  # a damaged file is skipped, as a missing one is
        log.warning("could not load embedding %s: %s", path.name, exc)
        return None
    vectors = vectors_from(data, key)
    return None if vectors is None else vectors.float().reshape(-1, vectors.shape[-1])


def embedding_lookup(dirs: Sequence[str | os.PathLike], key: str | None = None) -> EmbeddingLookup:
    """The resolver `tokenize_prompt` takes: name -> vectors or None (vectors of the wrong
    width are dropped there). `key` is the encoder's name in multi-encoder files."""

    def lookup(name: str) -> torch.Tensor | None:
        path = find_embedding(name, dirs)
        return None if path is None else load_embedding(path, key)

    return lookup
