"""Text operations behind the utils/string nodes: case, trim, compare and regular
expressions with ComfyUI's modes.

Patterns come from users, so they run on the `regex` package (the `re` syntax) with a time
limit: a pattern that backtracks without end fails with a clear error instead of hanging
the worker. An invalid pattern gives no match (Regex Match / Extract, as in ComfyUI) or an
error naming it (Regex Replace).
"""

from __future__ import annotations

import regex

REGEX_TIMEOUT_S = 5.0
CASE_MODES = ("UPPERCASE", "lowercase", "Capitalize", "Title Case")
TRIM_MODES = ("Both", "Left", "Right")
COMPARE_MODES = ("Starts With", "Ends With", "Equal")
EXTRACT_MODES = ("First Match", "All Matches", "First Group", "All Groups")


class PatternError(ValueError):
    """A regular expression that is invalid or runs too long; the message names it."""


def convert_case(text: str, mode: str) -> str:
    ops = {"UPPERCASE": str.upper, "lowercase": str.lower, "Capitalize": str.capitalize,
           "Title Case": str.title}
    return ops[mode](text) if mode in ops else text


def trim(text: str, mode: str) -> str:
    ops = {"Both": str.strip, "Left": str.lstrip, "Right": str.rstrip}
    return ops[mode](text) if mode in ops else text


def contains(text: str, part: str, case_sensitive: bool) -> bool:
    return part in text if case_sensitive else part.lower() in text.lower()


def compare(a: str, b: str, mode: str, case_sensitive: bool) -> bool:
    if not case_sensitive:
        a, b = a.lower(), b.lower()
    ops = {"Starts With": a.startswith, "Ends With": a.endswith, "Equal": a.__eq__}
    if mode not in ops:
        raise ValueError(f"mode must be one of {COMPARE_MODES}, got {mode!r}")
    return bool(ops[mode](b))


def _flags(case_insensitive: bool, multiline: bool, dotall: bool) -> int:
    flags = regex.V0
    if case_insensitive:
        flags |= regex.IGNORECASE
    if multiline:
        flags |= regex.MULTILINE
    if dotall:
        flags |= regex.DOTALL
    return flags


def _compile(pattern: str, flags: int) -> regex.Pattern:
    try:
        return regex.compile(pattern, flags)
    except regex.error as exc:
        raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from exc


def _timed(fn, pattern: str):
    try:
        return fn()
    except TimeoutError as exc:
        raise PatternError(f"regular expression {pattern!r} took longer than {REGEX_TIMEOUT_S:g} s "
                           "(catastrophic backtracking?)") from exc


def regex_match(text: str, pattern: str, case_insensitive: bool = True, multiline: bool = False,
                dotall: bool = False) -> bool:
    """Whether `pattern` matches anywhere; an invalid pattern matches nothing."""
    try:
        compiled = _compile(pattern, _flags(case_insensitive, multiline, dotall))
    except PatternError:
        return False
    return _timed(lambda: compiled.search(text, timeout=REGEX_TIMEOUT_S), pattern) is not None


def regex_extract(text: str, pattern: str, mode: str, case_insensitive: bool = True,
                  multiline: bool = False, dotall: bool = False, group_index: int = 1) -> str:
    """The first match, all matches (a pattern with groups gives each match's first group),
    group `group_index` of the first match, or of every match; lists are joined with
    newlines; "" when nothing (or an invalid pattern) matches."""
    try:
        compiled = _compile(pattern, _flags(case_insensitive, multiline, dotall))
    except PatternError:
        return ""

    def run() -> str:
        if mode == "First Match":
            found = compiled.search(text, timeout=REGEX_TIMEOUT_S)
            return found.group(0) if found else ""
        if mode == "All Matches":
            matches = compiled.findall(text, timeout=REGEX_TIMEOUT_S)
            return "\n".join(m[0] if isinstance(m, tuple) else m for m in matches)
        if mode == "First Group":
            found = compiled.search(text, timeout=REGEX_TIMEOUT_S)
            ok = found is not None and len(found.groups()) >= group_index
            return (found.group(group_index) or "") if ok else ""
        if mode == "All Groups":
            return "\n".join(m.group(group_index) or "" for m in
                             compiled.finditer(text, timeout=REGEX_TIMEOUT_S)
                             if m.groups() and len(m.groups()) >= group_index)
        return ""

    return _timed(run, pattern)


def regex_replace(text: str, pattern: str, replacement: str, case_insensitive: bool = True,
                  multiline: bool = False, dotall: bool = False, count: int = 0) -> str:
    """Every (or the first `count`) match replaced; `\\1` and `\\g<name>` refer to groups."""
    compiled = _compile(pattern, _flags(case_insensitive, multiline, dotall))
    try:
        return _timed(lambda: compiled.sub(replacement, text, count=count,
                                           timeout=REGEX_TIMEOUT_S), pattern)
    except (regex.error, IndexError) as exc:
        raise PatternError(f"replacement {replacement!r} does not fit {pattern!r}: {exc}") from exc
