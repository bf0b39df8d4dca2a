"""Where custom-node packs spend their import time, from a `python -X importtime` log.

    PYTHONPROFILEIMPORTTIME=1 bash scripts/try_custom_nodes.sh PACK_DIR...   # prints the log path
    python bench/pack_imports.py SERVER_LOG [--top N]

Python's import profile times `import` statements only, so a pack's top module (which the
loader runs directly) is not in it, but everything it imports is, as top-level records
named by the pack's folder (its own submodules) or by the library's name. Records are
written in the order imports end, on the start-up thread one pack after the other, so every
top-level record after the line "plugin facades imported in" is charged to the next pack
whose own module follows it (to the last pack after the last one). Beneath those, each
module's self time goes to one of three groups: the pack's own modules, ours (the
ComfyUI-named facades and `comfy_core`/`nodes`, first imported because the pack touched
them) and third-party libraries (the packs' own dependencies, standard library included).
Records before that line are the server's own start-up, the facade preload included. A
module is charged to whichever pack imported it first; module-level work that is not an
import (a pack running a subprocess at import) is in the pack's own self time.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass

OURS = frozenset({
    "comfy_core", "nodes", "comfy", "comfy_extras", "comfy_api", "comfy_execution",
    "folder_paths", "node_helpers", "latent_preview", "execution", "server", "protocol",
})
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S.*)$")


SERVER = "server"
PACKS_START = "plugin facades imported in"


@dataclass
class Record:
    self_us: int
    depth: int
    name: str
    after_preload: bool


def read_records(path: str) -> list[Record]:
    """The import-time records of a log, in the order Python wrote them (children first)."""
    records = []
    after_preload = False
    with open(path, errors="replace") as log:
        for line in log:
            match = LINE.match(line.rstrip("\n"))
            if match:
                depth = (len(match.group(3)) - 1) // 2
                records.append(Record(int(match.group(1)), depth, match.group(4).strip(),
                                      after_preload))
            elif PACKS_START in line:
                after_preload = True
    return records


def group_of(name: str) -> str:
    """'pack', 'ours' or 'third-party' for one module name."""
    if "/custom_nodes/" in name:
        return "pack"
    return "ours" if name.split(".")[0] in OURS else "third-party"


def pack_of(name: str) -> str | None:
    """The pack folder a module named by the loader belongs to."""
    if "/custom_nodes/" not in name:
        return None
    return name.split("/custom_nodes/", 1)[1].split(".")[0].replace("_x_", ".")


def root_owners(records: list[Record]) -> list[str]:
    """For each record, the pack (or SERVER) its top-level import is charged to."""
    owners = [SERVER] * len(records)
    following = SERVER
    for i in range(len(records) - 1, -1, -1):
        record = records[i]
        if record.depth == 0 and pack_of(record.name):
            following = pack_of(record.name)
        if record.after_preload:
            owners[i] = following
    last = next((pack_of(r.name) for r in reversed(records)
                 if r.depth == 0 and pack_of(r.name)), SERVER)
    for i in range(len(records) - 1, -1, -1):  # after the last pack's own module
        if not records[i].after_preload or (records[i].depth == 0 and pack_of(records[i].name)):
            break
        owners[i] = last
    return owners


def breakdown(records: list[Record]) -> tuple[dict, dict]:
    """Seconds per (owner, group), and per (owner, third-party top-level package)."""
    by_group: dict = defaultdict(float)
    by_package: dict = defaultdict(float)
    owners = root_owners(records)
    stack: list[int] = []
    for i in range(len(records) - 1, -1, -1):  # a parent precedes its children reversed
        record = records[i]
        while stack and records[stack[-1]].depth >= record.depth:
            stack.pop()
        stack.append(i)
        owner = owners[stack[0]]
        group = group_of(record.name)
        by_group[owner, group] += record.self_us / 1e6
        if group != "pack":
            by_package[owner, record.name.split(".")[0]] += record.self_us / 1e6
    return by_group, by_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--top", type=int, default=4, help="packages listed per pack")
    args = parser.parse_args()
    by_group, by_package = breakdown(read_records(args.log))
    owners = sorted({owner for owner, _ in by_group}, key=lambda o: (o == SERVER, o.lower()))
    out = sys.stdout
    out.write(f"{'pack':32} {'total s':>8} {'own s':>7} {'ours s':>7} {'3rd-party s':>11}  "
              "largest (s)\n")
    totals = defaultdict(float)
    for owner in owners:
        cells = {g: by_group.get((owner, g), 0.0) for g in ("pack", "ours", "third-party")}
        if owner != SERVER:
            for g, v in cells.items():
                totals[g] += v
        top = sorted(((v, p) for (o, p), v in by_package.items() if o == owner), reverse=True)
        largest = ", ".join(f"{p} {v:.2f}" for v, p in top[:args.top])
        out.write(f"{owner[:32]:32} {sum(cells.values()):8.2f} {cells['pack']:7.2f} "
                  f"{cells['ours']:7.2f} {cells['third-party']:11.2f}  {largest}\n")
    out.write(f"{'all packs':32} {sum(totals.values()):8.2f} {totals['pack']:7.2f} "
              f"{totals['ours']:7.2f} {totals['third-party']:11.2f}\n")


if __name__ == "__main__":
    main()
