"""A worker's own input/output/temp folders and the files that leave or enter them.

Nodes on a worker save into its scratch output and temp folders. Every name a worker
reports must stay unique for its lifetime (the server maps each to the name it chose, and
a cached output node reports an old name again), so after a job its files are removed
except, emptied, the highest counter name of each prefix: `ComfyUI_00041_.png` left as an
empty file makes the next save `ComfyUI_00042_.png`, and the folders stay small. Input
files a job reads arrive with the job and are removed after it.

Removing a file that has data can take milliseconds (the file system frees and may
discard its blocks), so after a job such files are only renamed into `trash/` (cheap)
and `empty_trash` deletes them later, while the worker is idle. After a job that sent its
files normally the folders are not listed again: what it sent and received is known, and
the prefix's previous empty counter file is renamed onto the newest name (cheaper than
creating a file).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from comfy_core.cluster.transfer import COUNTER_NAME, SHIPPED_KINDS, file_entry, ui_file_items
from comfy_core.files.safe import UnsafePathError, contained_join

log = logging.getLogger(__name__)

MAX_TRASHED = 256  # files put aside before end_job deletes them itself
# ("file", kind, subfolder, filename, bytes)
FileItem = tuple[str, str, str, str, bytes]


class Scratch:
    """The scratch root of one worker: `input/`, `output/` and `temp/` below it."""

    def __init__(self, prefix: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        for kind in ("input", "output", "temp", "trash"):
            (self.root / kind).mkdir()
        self._received: set[Path] = set()
        self._sent: set[Path] = set()
        self._shipped_all = False  # ship_rest ran: every file the job wrote was sent
        # (folder, prefix) -> (counter, path) of the empty file that holds the counter
        self._markers: dict[tuple[Path, str], tuple[int, Path]] = {}
        self._trash_names = itertools.count()  # also how many files went to the trash
        self._trashed = 0
        self._deleted = 0  # of those (only empty_trash changes it)
        self._trash_lock = threading.Lock()  # empty_trash on two threads at once

    def dir(self, kind: str) -> Path:
        return self.root / kind

    def receive(self, files: dict[str, dict[str, bytes]]) -> None:
        """Write a job's input files ({kind: {relative name: bytes}})."""
        for kind, named in files.items():
            for name, data in named.items():
                try:
                    path = contained_join(self.dir(kind), name)
                except (UnsafePathError, ValueError, KeyError) as exc:
                    log.error("skipping input file %r (%s): %s", name, kind, exc)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                self._received.add(path)

    def ship_ui(self, ui: Any, send: Callable[[FileItem], None]) -> None:
        """Send the files a node's ui output names (each once)."""
        for item in ui_file_items(ui):
            subfolder, filename = item.get("subfolder") or "", item["filename"]
            try:
                path = file_entry(self.dir(item["type"]), subfolder, filename)
            except (UnsafePathError, ValueError):
                log.error("not sending %r: outside the scratch folder", item)
                continue
            self._send(path, item["type"], subfolder, filename, send)

    def ship_rest(self, send: Callable[[FileItem], None]) -> None:
        """Send files a job wrote without naming them in a ui output."""
        for kind in SHIPPED_KINDS:
            base = self.dir(kind)
            for path in _files(base):
                if path in self._received or path in self._sent:
                    continue
                rel = path.relative_to(base)
                subfolder = rel.parent.as_posix() if rel.parent != Path(".") else ""
                self._send(path, kind, subfolder, rel.name, send)
        self._shipped_all = True

    def _send(self, path: Path, kind: str, subfolder: str, filename: str,
              send: Callable[[FileItem], None]) -> None:
        if path in self._sent or path in self._received:
            return
        data = _plain_file_bytes(path)
        if not data:  # none, or empty: sent by an earlier job (a cached output node)
            return
        send(("file", kind, subfolder, filename, data))
        self._sent.add(path)

    def end_job(self) -> None:
        """Clear away what this job wrote and read, keeping each prefix's counter."""
        for path in self._received:
            self._discard(path)
        if self._shipped_all:
            newest = _newest(self._sent, self._discard)
        else:  # it stopped before sending everything: look at what is there
            newest = {}
            for kind in SHIPPED_KINDS:
                newest.update(_newest(_files(self.dir(kind)), self._discard))
        for key, (number, path) in newest.items():
            self._hold_counter(key, number, path)
        self._sent.clear()
        self._received.clear()
        self._shipped_all = False
        if self._trashed - self._deleted >= MAX_TRASHED:  # nobody empties it: do it now
            self.empty_trash(lambda: False)

    def _hold_counter(self, key: tuple[Path, str], number: int, path: Path) -> None:
        """Leave `path` (a prefix's newest name) as an empty file: its data goes to the
        trash, and the prefix's previous empty file takes its name."""
        old = self._markers.get(key)
        if old is not None and old[1] != path and old[0] > number:
            self._discard(path)  # older than the counter already held
            return
        if path.stat().st_size == 0:
            self._markers[key] = (number, path)
            return
        self._to_trash(path)
        try:
            if old is None or old[1] == path:
                raise FileNotFoundError
            os.rename(old[1], path)
        except FileNotFoundError:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        self._markers[key] = (number, path)

    def _discard(self, path: Path) -> None:
        """Out of the way at once: an empty file is removed, one with data renamed into
        the trash."""
        try:
            if path.stat().st_size == 0:
                path.unlink()
            else:
                self._to_trash(path)
        except FileNotFoundError:
            pass

    def _to_trash(self, path: Path) -> None:
        self._trashed = next(self._trash_names) + 1
        os.rename(path, self.dir("trash") / str(self._trashed))

    def empty_trash(self, stop: Callable[[], bool]) -> None:
        """Delete what end_job put aside, until `stop()` says the worker is needed."""
        with self._trash_lock:
            for entry in os.scandir(self.dir("trash")):
                if stop():
                    return
                try:
                    os.unlink(entry.path)
                    self._deleted += 1
                except FileNotFoundError:
                    pass

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _newest(paths: Iterable[Path], discard: Callable[[Path], None]
            ) -> dict[tuple[Path, str], tuple[int, Path]]:
    """The newest counter name of each (folder, prefix) among `paths`; `discard` gets
    every other path."""
    newest: dict[tuple[Path, str], tuple[int, Path]] = {}
    for path in list(paths):
        match = COUNTER_NAME.match(path.name)
        if match is None:
            discard(path)
            continue
        key, number = (path.parent, match["stem"]), int(match["counter"])
        kept = newest.get(key)
        if kept is not None and kept[0] > number:
            discard(path)
            continue
        if kept is not None:
            discard(kept[1])
        newest[key] = (number, path)
    return newest


def _plain_file_bytes(path: Path) -> bytes | None:
    """The content of `path` if it is a regular file and not a link (a link could name a
    file outside the scratch folder); None if it is missing or anything else. One open
    instead of a stat per question."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as file:
        return file.read()


def _files(base: Path) -> Iterable[Path]:
    for dirpath, _, filenames in os.walk(base):
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name
