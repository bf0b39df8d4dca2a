import gzip
import json
from importlib import resources

import pytest

from comfy_core.text.tokenizer import ClipTokenizer


@pytest.fixture(scope="session")
def clip_tokenizer():
    return ClipTokenizer()


@pytest.fixture(scope="session")
def hf_tokenizer(tmp_path_factory, clip_tokenizer):
    """transformers' CLIPTokenizer built from the same bundled vocabulary."""
    from transformers import CLIPTokenizer

    d = tmp_path_factory.mktemp("clip_vocab")
    (d / "vocab.json").write_text(json.dumps(clip_tokenizer.encoder))
    raw = resources.files("comfy_core.text").joinpath("data/bpe_simple_vocab_16e6.txt.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n")
    return CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"))
