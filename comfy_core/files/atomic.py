"""Write files so that they appear under their name only once complete.

A process killed halfway through writing an output (or an upload, a settings file) must
not leave a truncated file that /view serves or LoadImage reads. Writers get a hidden
temporary path in the same folder (`.<name>.<random>.partial`, skipped by listings and
never served) and the file is renamed onto its name when the write succeeded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

PARTIAL_SUFFIX = ".partial"


def is_partial_name(name: str) -> bool:
    """Whether `name` is a temporary file of an unfinished (or killed) write."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def _create_partial(dest: Path) -> Path:
    """A new empty hidden file beside `dest` (mode 0666 minus the umask, like open())."""
    while True:
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path to write `dest`'s content to; renamed onto `dest` when the block
    ends normally, removed when it raises."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_partial(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # a failed write() names no file; say which one (a full disk, a quota...)
            raise OSError(exc.errno, exc.strerror, str(dest)) from exc
        raise


def write_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` through a temporary file and a rename."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
