"""Where custom-node packs spend their import time, from a `python -X importtime` log.

    PYTHONPROFILEIMPORTTIME=1 bash scripts/try_custom_nodes.sh PACK_DIR...   # prints the log path
    python bench/pack_imports.py SERVER_LOG [--top N]

The server imports a pack under its folder's path, so every top-level import record whose
name holds `/custom_nodes/<pack>` is that pack's; the modules imported beneath it are
charged to it by their own (self) time in three groups: the pack's own modules, ours (the
ComfyUI-named facades and `comfy_core`/`nodes`, imported because the pack touched them)
and third-party libraries (the packs' own dependencies, standard library included). The
facades preloaded before the first pack, and the server's own imports, are the "server"
row. A module is charged to whichever pack imported it first. Module-level work that is
not an import (a pack scanning files at import) is in the pack's own self time.
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
SHARED = ("facades, preloaded", "server")
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S.*)$")


@dataclass
class Record:
    self_us: int
    depth: int
    name: str


def read_records(path: str) -> list[Record]:
    """The import-time records of a log, in the order Python wrote them (children first)."""
    records = []
    with open(path, errors="replace") as log:
        for line in log:
            match = LINE.match(line.rstrip("\n"))
            if match:
                depth = (len(match.group(3)) - 1) // 2
                records.append(Record(int(match.group(1)), depth, match.group(4).strip()))
    return records


def group_of(name: str) -> str:
    """'pack', 'ours' or 'third-party' for one module name."""
    if "/custom_nodes/" in name:
        return "pack"
    return "ours" if name.split(".")[0] in OURS else "third-party"


def owner_of(root: str) -> str:
    """The pack a top-level record belongs to, or 'server'."""
    if "/custom_nodes/" not in root:
        facade = root.split(".")[0] in OURS - {"comfy_core", "nodes"}
        return "facades, preloaded" if facade else "server"
    return root.split("/custom_nodes/", 1)[1].split(".")[0].replace("_x_", ".")


def breakdown(records: list[Record]) -> tuple[dict, dict]:
    """Seconds per (owner, group), and per (owner, third-party top-level package)."""
    by_group: dict = defaultdict(float)
    by_package: dict = defaultdict(float)
    stack: list[Record] = []
    for record in reversed(records):  # a parent precedes its children once reversed
        while stack and stack[-1].depth >= record.depth:
            stack.pop()
        stack.append(record)
        owner = owner_of(stack[0].name)
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
    owners = sorted({owner for owner, _ in by_group}, key=lambda o: (o in SHARED, o.lower()))
    out = sys.stdout
    out.write(f"{'pack':32} {'total s':>8} {'own s':>7} {'ours s':>7} {'3rd-party s':>11}  "
              "largest (s)\n")
    totals = defaultdict(float)
    for owner in owners:
        cells = {g: by_group.get((owner, g), 0.0) for g in ("pack", "ours", "third-party")}
        if owner not in SHARED:
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
