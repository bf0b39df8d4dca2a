"""The bundled-vocabulary CLIP tokenizer against transformers' CLIPTokenizer."""

import pytest

CASES = [
    "a photo of a cat",
    "A Photo Of A CAT, masterpiece, best quality",
    "  lots   of\tspaces\nand newlines  ",
    "don't you'll we've they're I'm she'd it's",
    "numbers 1234 and 3.14159 and 1st 2nd",
    "emoji 🐱🔥 and symbols #$%^&*!!! ~~~ ...",
    "naïve café résumé Ångström",
    "タワー 한국어",
    "hyphen-ated words_with_underscores and/or slashes",
    "(parentheses:1.2) [brackets] {braces} <angles>",
    "",
    "x" * 200,
    "photorealistic, ultra-detailed, 8k uhd, dslr, soft lighting, high quality, film grain",
    "Straße ΑΒΓ Привет мир",
]


@pytest.mark.parametrize("text", CASES)
def test_matches_transformers(clip_tokenizer, hf_tokenizer, text):
    expected = hf_tokenizer(text)["input_ids"][1:-1]
    assert clip_tokenizer.encode(text) == expected


def test_cjk_ideographs_are_separate_words(clip_tokenizer, hf_tokenizer):
    """transformers' slow CLIPTokenizer (what ComfyUI uses with transformers 4) spaces
    out CJK ideographs before BPE; the fast one does not, so compare on spaced text."""
    expected = hf_tokenizer("東 京 タワー 日 本 語")["input_ids"][1:-1]
    assert clip_tokenizer.encode("東京タワー 日本語") == expected


def test_vocab_and_special_tokens(clip_tokenizer):
    assert len(clip_tokenizer.encoder) == 49408
    assert clip_tokenizer.encoder["<|startoftext|>"] == 49406
    assert clip_tokenizer.encoder["<|endoftext|>"] == 49407
    assert clip_tokenizer.encode("a cat") == [320, 2368]
    assert clip_tokenizer.decode(clip_tokenizer.encode("a photo of a cat")) == "a photo of a cat"
