"""Files between the server and its workers, carried by Ray's object store.

Workers save into their own scratch folders; every file a job produces travels back as
bytes inside the job's event stream and the server writes it into its output (or temp)
folder. The server chooses the final name: two workers both naming their next image
`ComfyUI_00007_.png` must not overwrite each other, so a counter name takes the server
folder's next free counter, as a save on the server itself would. `FileSink` remembers
the renames per worker so the file names in events, history and cached outputs match.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

from comfy_core.files.atomic import write_atomic
from comfy_core.files.safe import UnsafePathError, contained_join
from comfy_core.files.save_path import next_counter

log = logging.getLogger(__name__)

SHIPPED_KINDS = ("output", "temp")
COUNTER_NAME = re.compile(r"^(?P<stem>.+)_(?P<counter>\d{5,})_(?P<ext>\.[^./\\]*)$")
MAX_REMEMBERED_RENAMES = 200_000
MAX_REMEMBERED_FOLDERS = 1_000


def ui_file_items(ui: Any) -> Iterator[dict]:
    """The file items ({"filename", "subfolder", "type"}) of a node's ui output, for the
    kinds the server keeps (output and temp)."""
    if not isinstance(ui, dict):
        return
    for items in ui.values():
        if not isinstance(items, list):
            continue
        for item in items:
            if (isinstance(item, dict) and isinstance(item.get("filename"), str)
                    and item.get("type") in SHIPPED_KINDS):
                yield item


def file_entry(base: Path, subfolder: str, filename: str) -> Path:
    """`base/subfolder/filename` for a file a worker's job names: the subfolder's links
    resolved and kept inside `base` (UnsafePathError otherwise), the name one plain
    component, which callers never follow as a link (they read it with O_NOFOLLOW or
    replace the entry), so it needs no resolving of its own."""
    if filename in ("", ".", "..") or any(c in filename for c in "/\\\x00"):
        raise UnsafePathError(f"{filename!r} is not a plain file name")
    return (contained_join(base, subfolder) if subfolder else base) / filename


class FileSink:
    """Writes workers' files into the server's folders and rewrites names that changed.

    Thread-safe: one sink serves every running job (a lock covers choosing a name and
    writing the file)."""

    def __init__(self, folders: Any) -> None:
        self._folders = folders  # comfy_core.files.FolderPaths of the server
        self._lock = threading.Lock()
        self._names: OrderedDict[tuple[str, str, str, str], str] = OrderedDict()
        self._counters = _Counters()

    def store(self, worker_id: str, kind: str, subfolder: str, filename: str,
              data: bytes) -> str | None:
        """Write one file; returns its name on the server (None when refused)."""
        if kind not in SHIPPED_KINDS:
            log.error("worker %s sent a file of unknown kind %r; dropped", worker_id, kind)
            return None
        try:
            # created, or atomically replaced, as an entry: never written through a link
            folder = file_entry(self._folders.directory_of(kind), subfolder, filename).parent
        except (UnsafePathError, ValueError) as exc:
            log.error("worker %s sent a file outside the %s folder (%r/%r): %s", worker_id,
                      kind, subfolder, filename, exc)
            return None
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            final = self._free_name(folder, filename)
            write_atomic(folder / final, data)
            self._counters.wrote(folder, final)
            key = (worker_id, kind, subfolder, filename)
            self._names[key] = final
            self._names.move_to_end(key)
            while len(self._names) > MAX_REMEMBERED_RENAMES:
                self._names.popitem(last=False)
        return final

    def rename_ui(self, worker_id: str, ui: Any) -> Any:
        """One node's ui output with the server's file names."""
        if not isinstance(ui, dict):
            return ui
        return {key: [self._renamed(worker_id, item) for item in items]
                if isinstance(items, list) else items for key, items in ui.items()}

    def rename_outputs(self, worker_id: str, outputs: dict) -> dict:
        """A history record's outputs (node id -> ui) with the server's file names."""
        return {node: self.rename_ui(worker_id, ui) for node, ui in outputs.items()}

    def _renamed(self, worker_id: str, item: Any) -> Any:
        if not (isinstance(item, dict) and item.get("type") in SHIPPED_KINDS
                and isinstance(item.get("filename"), str)):
            return item
        key = (worker_id, item["type"], item.get("subfolder") or "", item["filename"])
        with self._lock:
            final = self._names.get(key)
        return {**item, "filename": final} if final is not None else item


    def _free_name(self, folder: Path, filename: str) -> str:
        """The name a save on the server would take: a counter name (`<stem>_00007_.png`)
        gets the folder's next free counter; another name is kept when free, else becomes
        `<stem>_<n><ext>`."""
        match = COUNTER_NAME.match(filename)
        if match is not None:
            stem, ext = match["stem"], match["ext"]
            counter = self._counters.next(folder, stem)
            while (folder / f"{stem}_{counter:05}_{ext}").exists():
                counter += 1
            return f"{stem}_{counter:05}_{ext}"
        if not (folder / filename).exists():
            return filename
        stem, dot, ext = filename.rpartition(".")
        stem, ext = (stem, dot + ext) if dot else (filename, "")
        n = 1
        while (folder / f"{stem}_{n}{ext}").exists():
            n += 1
        return f"{stem}_{n}{ext}"


class _Counters:
    """The next counter of a name prefix in a folder, without listing the folder for every
    file: what the sink last wrote there holds while the folder's modification time is
    the one it had after that write (anything else adding or removing a file changes it,
    and the folder is listed again). Every worker's files go through one sink, so a large
    output folder would otherwise be listed once per image under its lock. A change the
    clock cannot tell apart costs order, never a file: a taken name is still skipped."""

    def __init__(self) -> None:
        self._known: OrderedDict[Path, tuple[int, dict[str, int]]] = OrderedDict()

    def next(self, folder: Path, stem: str) -> int:
        known = self._known.get(folder)
        if known is not None and stem in known[1] and known[0] == _mtime(folder):
            return known[1][stem]
        return next_counter(folder, stem)

    def wrote(self, folder: Path, name: str) -> None:
        match = COUNTER_NAME.match(name)
        stems = {match["stem"]: int(match["counter"]) + 1} if match is not None else {}
        self._known[folder] = (_mtime(folder), stems)
        self._known.move_to_end(folder)
        while len(self._known) > MAX_REMEMBERED_FOLDERS:
            self._known.popitem(last=False)


def _mtime(folder: Path) -> int:
    return folder.stat().st_mtime_ns
