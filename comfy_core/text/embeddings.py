"""Textual-inversion embeddings (Gal et al. 2022): find a file by name in the embeddings
folders (and their subfolders) and read its vectors in the A1111 (`string_to_param`),
list, model-key (`clip_l`/`clip_g`/`clip_h`), `bundle_emb.*` or single-tensor form."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch

from comfy_core.text.prompt import EmbeddingLookup

log = logging.getLogger(__name__)

EXTENSIONS = (".safetensors", ".pt", ".bin")


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


def _read(path: Path) -> Any:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    # weights_only uses torch's restricted unpickler: tensors and plain containers only.
    return torch.load(str(path), map_location="cpu", weights_only=True)


def vectors_from(data: Any, dim: int | None, key: str | None) -> torch.Tensor | None:
    """[n, dim] vectors from a loaded embedding file's contents."""
    if isinstance(data, dict) and "string_to_param" in data:
        return next(iter(data["string_to_param"].values()))
    if isinstance(data, list):
        parts = [t.reshape(-1, t.shape[-1]) for item in data for t in item.values() if dim is None or t.shape[-1] == dim]
        return torch.cat(parts) if parts else None
    if not isinstance(data, dict) or not data:
        return None
    if key is not None and key in data:
        return data[key]
    bundled = [v for k, v in data.items() if k.startswith("bundle_emb.") and ".string_to_param." in k]
    if bundled:
        return bundled[0]
    first = next(iter(data.values()))
    return first if torch.is_tensor(first) else None


def load_embedding(path: Path, dim: int | None = None, key: str | None = None) -> torch.Tensor | None:
    """Vectors [n, dim] from one file, or None (with a warning) when it cannot be read."""
    try:
        data = _read(path)
    except Exception as exc:  # a corrupt or foreign file must not fail the prompt
        log.warning("could not load embedding %s: %s", path.name, exc)
        return None
    vectors = vectors_from(data, dim, key)
    return None if vectors is None else vectors.float().reshape(-1, vectors.shape[-1])


def embedding_lookup(dirs: Sequence[str | os.PathLike], dim: int | None = None, key: str | None = None) -> EmbeddingLookup:
    """The resolver `tokenize_prompt` takes: name -> vectors or None."""

    def lookup(name: str) -> torch.Tensor | None:
        path = find_embedding(name, dirs)
        return None if path is None else load_embedding(path, dim, key)

    return lookup
