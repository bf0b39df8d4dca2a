"""Output file naming for SaveImage/PreviewImage (COMPAT 8.2): `<prefix>_<00001>_.png`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from comfy_core.files.safe import UnsafePathError, is_within


def expand_prefix_vars(prefix: str, width: int, height: int,
                       now: time.struct_time | None = None) -> str:
    """Replace %width%, %height% and the local-time %year%..%second% variables."""
    if "%" not in prefix:
        return prefix
    t = now or time.localtime()
    values = {"width": str(width), "height": str(height), "year": str(t.tm_year),
              "month": f"{t.tm_mon:02}", "day": f"{t.tm_mday:02}", "hour": f"{t.tm_hour:02}",
              "minute": f"{t.tm_min:02}", "second": f"{t.tm_sec:02}"}
    for key, value in values.items():
        prefix = prefix.replace(f"%{key}%", value)
    return prefix


def next_counter(folder: Path, filename: str) -> int:
    """1 + the largest N of existing `<filename>_<N>...` entries (case-normalized), else 1."""
    best = 0
    want = os.path.normcase(filename)
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        return 1
    for entry in entries:
        head = entry[: len(filename) + 1]
        if os.path.normcase(head[:-1]) != want or head[-1:] != "_":
            continue
        try:
            number = int(entry[len(filename) + 1:].split("_")[0])
        except ValueError:
            number = 0
        best = max(best, number)
    return best + 1


def save_image_path(output_dir: Path, prefix: str, width: int = 0, height: int = 0,
                    ) -> tuple[Path, str, int, str, str]:
    """(folder, filename, counter, subfolder, prefix) for saving images named by `prefix`.

    Raises UnsafePathError when the prefix would write outside `output_dir` (also through a
    symlinked subfolder). Creates the target folder."""
    prefix = expand_prefix_vars(prefix, width, height)
    if not prefix.strip() or "\x00" in prefix:
        raise UnsafePathError(f"invalid filename prefix {prefix!r}")
    normalized = os.path.normpath(prefix)
    subfolder = os.path.dirname(normalized)
    filename = os.path.basename(normalized)
    folder = Path(os.path.abspath(os.path.join(output_dir, subfolder)))
    if os.path.isabs(subfolder) or not is_within(output_dir, folder) or not filename:
        raise UnsafePathError(f"saving image outside the output folder is not allowed: prefix "
                              f"{prefix!r}")
    counter = next_counter(folder, filename)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, filename, counter, subfolder, prefix
