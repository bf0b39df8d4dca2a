"""Prompt weights (COMPAT 9.7), chunking boundaries, embeddings and the encode procedure."""

import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from comfy_core.text.embeddings import EmbeddingError, embedding_lookup, find_embedding, load_embedding
from comfy_core.text.encode import concat_sdxl, empty_ids, encode_prompt
from comfy_core.text.prompt import parse_weights, tokenize_prompt
from comfy_core.text.tokenizer import BOS_ID, EOS_ID


@pytest.mark.parametrize(
    "text,expected",
    [
        ("a cat", [("a cat", 1.0)]),
        ("(cat)", [("cat", 1.1)]),
        ("((cat))", [("cat", pytest.approx(1.21))]),
        ("(cat:1.5)", [("cat", 1.5)]),
        ("((cat:0.5))", [("cat", 0.5)]),  # sets, not multiplies
        ("((cat:0.5) dog)", [("cat", 0.5), (" dog", pytest.approx(1.1))]),
        ("a (b:x)", [("a ", 1.0), ("b:x", pytest.approx(1.1))]),
        ("\\(literal\\) [x]", [("(literal) [x]", 1.0)]),
        ("a (b) c", [("a ", 1.0), ("b", pytest.approx(1.1)), (" c", 1.0)]),
        ("(a:1.2:1.3)", [("a:1.2", 1.3)]),
        ("", []),
        ("unclosed (x", [("unclosed ", 1.0), ("(x", 1.0)]),
    ],
)
def test_parse_weights(text, expected):
    assert parse_weights(text) == expected


def test_chunk_layout_and_pad_tokens(clip_tokenizer):
    p = tokenize_prompt("a cat", clip_tokenizer)
    assert p.ids == ((BOS_ID, 320, 2368, EOS_ID) + (EOS_ID,) * 73,)
    p0 = tokenize_prompt("a cat", clip_tokenizer, pad_token=0)
    assert p0.ids[0][:5] == (BOS_ID, 320, 2368, EOS_ID, 0) and len(p0.ids[0]) == 77
    empty = tokenize_prompt("", clip_tokenizer, pad_token=0)
    assert empty.ids == ((BOS_ID, EOS_ID) + (0,) * 75,)


def test_long_segment_splits_exactly_at_boundary(clip_tokenizer):
    text = " ".join(["cat"] * 100)  # one segment of 100 tokens
    p = tokenize_prompt(text, clip_tokenizer, pad_token=0)
    assert len(p.ids) == 2
    assert p.ids[0] == (BOS_ID,) + (2368,) * 75 + (EOS_ID,)
    assert p.ids[1][:27] == (BOS_ID,) + (2368,) * 25 + (EOS_ID,) and set(p.ids[1][27:]) == {0}


def test_short_segment_moves_whole_to_next_chunk(clip_tokenizer):
    first = " ".join(["cat"] * 70)  # 70 tokens
    p = tokenize_prompt(f"{first}(dog dog dog dog dog dog dog)", clip_tokenizer, pad_token=0)
    assert len(p.ids) == 2
    assert p.ids[0][:72] == (BOS_ID,) + (2368,) * 70 + (EOS_ID,) and set(p.ids[0][72:]) == {0}
    assert p.ids[1][:9] == (BOS_ID,) + (1929,) * 7 + (EOS_ID,)
    assert p.weights[1][1] == pytest.approx(1.1)
    # 8 tokens are "large": split at the boundary instead.
    q = tokenize_prompt(f"{first}(dog dog dog dog dog dog dog dog)", clip_tokenizer, pad_token=0)
    assert q.ids[0][71:] == (1929,) * 5 + (EOS_ID,)
    assert q.ids[1][:5] == (BOS_ID, 1929, 1929, 1929, EOS_ID)


def test_embeddings_are_injected(clip_tokenizer, tmp_path, caplog):
    sub = tmp_path / "sub"
    sub.mkdir()
    vecs = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    save_file({"emb_params": vecs}, str(sub / "style.safetensors"))
    save_file({"clip_l": vecs[:1], "clip_g": torch.ones(2, 8)}, str(tmp_path / "multi.safetensors"))
    assert find_embedding("style", [tmp_path]) == (sub / "style.safetensors").resolve()
    assert find_embedding("../etc/passwd", [tmp_path]) is None
    assert load_embedding(tmp_path / "multi.safetensors", "clip_g").shape == (2, 8)
    lookup = embedding_lookup([tmp_path], key="clip_l")
    p = tokenize_prompt("a embedding:style, cat", clip_tokenizer, embedding_lookup=lookup, embedding_dim=4)
    assert p.ids[0][:7] == (BOS_ID, 320, EOS_ID, EOS_ID, EOS_ID, 267, 2368)
    assert [(i.chunk, i.position) for i in p.injections] == [(0, 2), (0, 3), (0, 4)]
    torch.testing.assert_close(p.injections[1].vector, vecs[1])
    with caplog.at_level(logging.WARNING):
        missing = tokenize_prompt("embedding:nothere cat", clip_tokenizer, embedding_lookup=lookup)
        wrong = tokenize_prompt("embedding:multi", clip_tokenizer, embedding_lookup=embedding_lookup([tmp_path], "clip_l"), embedding_dim=8)
    assert missing.ids[0][:3] == (BOS_ID, 2368, EOS_ID) and not missing.injections
    assert not wrong.injections and "width" in caplog.text


class _Payload:
    """Unpickling this creates a file: proof that a pickle ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("suffix", [".pt", ".bin"])
def test_pickled_embeddings_are_refused_naming_the_file(clip_tokenizer, tmp_path, suffix):
    """Textual inversions in pickle form are refused like every other pickle (never
    unpickled, not even with torch's restricted unpickler), with an error naming the file
    and the way out; a safetensors file of the same name is preferred when both exist."""
    marker = tmp_path / "ran"
    torch.save({"string_to_param": {"*": torch.ones(2, 4)}, "x": _Payload(marker)}, tmp_path / f"old{suffix}")
    lookup = embedding_lookup([tmp_path], key="clip_l")
    with pytest.raises(EmbeddingError, match=rf"old\{suffix} is a pickle file.*safetensors"):
        tokenize_prompt("a embedding:old cat", clip_tokenizer, embedding_lookup=lookup, embedding_dim=4)
    with pytest.raises(EmbeddingError, match=rf"old\{suffix}"):
        lookup(f"old{suffix}")
    assert not marker.exists()
    save_file({"emb_params": torch.ones(2, 4)}, str(tmp_path / "old.safetensors"))
    assert lookup("old").shape == (2, 4)


def test_damaged_safetensors_embedding_is_skipped_with_a_warning(clip_tokenizer, tmp_path, caplog):
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    with caplog.at_level(logging.WARNING):
        p = tokenize_prompt("embedding:cut cat", clip_tokenizer, embedding_lookup=embedding_lookup([tmp_path]))
    assert not p.injections and "cut.safetensors" in caplog.text


class FakeEncoder:
    """hidden[n, j] = token id + j/100 (so weights are visible), pooled = first hidden."""

    def __init__(self):
        self.calls = []

    def __call__(self, ids, injections):
        self.calls.append((ids.clone(), list(injections)))
        j = torch.arange(ids.shape[1], dtype=torch.float32) / 100
        hidden = (ids.float() + j)[..., None].repeat(1, 1, 3)
        return hidden, hidden[:, 0] * 2


def test_encode_prompt_weights_and_pooled(clip_tokenizer):
    enc = FakeEncoder()
    cond, pooled = encode_prompt(tokenize_prompt("a (cat:2.0)", clip_tokenizer), enc)
    ids = enc.calls[0][0]
    assert ids.shape == (2, 77) and ids[1].tolist() == empty_ids(EOS_ID)
    assert cond.shape == (1, 77, 3)
    z_cat, z_empty = 2368 + 0.02, EOS_ID + 0.02
    assert float(cond[0, 2, 0]) == pytest.approx((z_cat - z_empty) * 2 + z_empty)
    assert float(cond[0, 1, 0]) == pytest.approx(320.01)
    torch.testing.assert_close(pooled, torch.full((1, 3), BOS_ID * 2.0))
    enc2 = FakeEncoder()
    long_cond, _ = encode_prompt(tokenize_prompt(" ".join(["cat"] * 80), clip_tokenizer), enc2)
    assert enc2.calls[0][0].shape == (2, 77) and long_cond.shape == (1, 154, 3)
    assert concat_sdxl(torch.zeros(1, 154, 768), torch.zeros(1, 77, 1280)).shape == (1, 77, 2048)
