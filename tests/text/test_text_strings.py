"""String and regex operations with ComfyUI's modes; runaway patterns are stopped."""

from __future__ import annotations

import pytest

from comfy_core.text import strings


def test_case_trim_contains_compare():
    assert [strings.convert_case("hello wORLD", m) for m in strings.CASE_MODES] == [
        "HELLO WORLD", "hello world", "Hello world", "Hello World"]
    assert [strings.trim("  a b \n", m) for m in strings.TRIM_MODES] == ["a b", "a b \n", "  a b"]
    assert strings.contains("Hello", "ELL", False) and not strings.contains("Hello", "ELL", True)
    assert strings.compare("Hello", "he", "Starts With", False)
    assert not strings.compare("Hello", "he", "Starts With", True)
    assert strings.compare("Hello", "LO", "Ends With", False)
    assert strings.compare("a", "a", "Equal", True)


def test_regex_match_and_extract_modes():
    text = "id=12, id=345\nID=6"
    assert strings.regex_match(text, r"ID=1") and not strings.regex_match(text, r"ID=1", False)
    assert not strings.regex_match(text, "(")  # invalid pattern: no match
    assert strings.regex_match(text, r"^ID", True, multiline=True)
    assert strings.regex_match("a\nb", "a.b", dotall=True) and not strings.regex_match("a\nb", "a.b")
    assert strings.regex_extract(text, r"id=(\d+)", "First Match") == "id=12"
    assert strings.regex_extract(text, r"id=(\d+)", "All Matches") == "12\n345\n6"
    assert strings.regex_extract(text, r"id=\d+", "All Matches", False) == "id=12\nid=345"
    assert strings.regex_extract(text, r"(id)=(\d+)", "First Group", group_index=2) == "12"
    assert strings.regex_extract(text, r"(id)=(\d+)", "All Groups", group_index=2) == "12\n345\n6"
    assert strings.regex_extract(text, r"(id)=(\d+)", "First Group", group_index=3) == ""
    assert strings.regex_extract(text, "[", "First Match") == ""


def test_regex_replace_counts_groups_and_errors():
    assert strings.regex_replace("a1b2c3", r"(\d)", r"<\1>") == "a<1>b<2>c<3>"
    assert strings.regex_replace("a1b2c3", r"\d", "#", count=2) == "a#b#c3"
    assert strings.regex_replace("ABC", "b", "x", case_insensitive=False) == "ABC"
    with pytest.raises(strings.PatternError, match="invalid regular expression"):
        strings.regex_replace("x", "(", "y")
    with pytest.raises(strings.PatternError, match="does not fit"):
        strings.regex_replace("x", "x", r"\2")


def test_runaway_patterns_stop_with_an_error(monkeypatch):
    monkeypatch.setattr(strings, "REGEX_TIMEOUT_S", 0.2)
    with pytest.raises(strings.PatternError, match="took longer than 0.2 s"):
        strings.regex_match("a" * 64 + "!", r"(a|aa)+$")
