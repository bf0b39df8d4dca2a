#!/usr/bin/env bash
# Try ComfyUI custom-node packs on this server, as a user dropping them into custom_nodes/:
#
#   bash scripts/try_custom_nodes.sh [--keep] [--port N] [--python PY] [--models DIR]
#                                    [--comfyui COMFYUI_DIR] [--run WORKFLOW.json]... PACK_DIR...
#
# Each PACK_DIR (a folder or a single .py file) is copied into custom_nodes/ of a scratch
# base directory (models/, input/, output/, user/ of its own: nothing of this checkout is
# touched), server.py starts on that base with --cpu, and once /object_info answers the
# script prints per pack: import status, node count, import seconds and the first error
# (the loader's cause line and fix), then the start-up times (wall clock, and the server's
# CPU seconds). Packages a pack needs are never installed: the failure names them. With --keep the server keeps running (Ctrl-C
# stops it) so routes and workflows can be tried by hand. PY defaults to the project venv;
# --models DIR links DIR as the scratch base's models/ folder (e.g. tiny generated weights
# from `python -m comfy_core.tools.make_checkpoint`). Each --run WORKFLOW.json (API format,
# as "Export (API)" saves it) is queued once the packs are loaded and reported as it ends:
# ok with its outputs, or the node and message that stopped it. --comfyui COMFYUI_DIR starts
# ComfyUI's own main.py from that checkout instead of this server, on the same kind of
# scratch base (for comparing start-up costs; its per-pack times are read from its log).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
KEEP=0
PORT=""
MODELS=""
COMFYUI=""
PACKS=()
RUNS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --port) PORT="$2"; shift ;;
    --python) PY="$2"; shift ;;
    --models) MODELS="$(cd "$2" && pwd)"; shift ;;
    --comfyui) COMFYUI="$(cd "$2" && pwd)"; shift ;;
    --run) RUNS+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) PACKS+=("$1") ;;
  esac
  shift
done
[ ${#PACKS[@]} -gt 0 ] || { echo "usage: $0 [--keep] [--port N] PACK_DIR..." >&2; exit 2; }
[ -x "$PY" ] || PY="$(command -v python3)"

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/try-custom-nodes.XXXXXX")"
mkdir -p "$SCRATCH/custom_nodes"
[ -z "$MODELS" ] || ln -s "$MODELS" "$SCRATCH/models"
for pack in "${PACKS[@]}"; do
  pack="${pack%/}"
  [ -e "$pack" ] || { echo "no such pack: $pack" >&2; exit 2; }
  cp -R "$pack" "$SCRATCH/custom_nodes/$(basename "$pack")"
done
rm -rf "$SCRATCH"/custom_nodes/*/.git
[ -n "$PORT" ] || PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

LOG="$SCRATCH/server.log"
START=$(date +%s.%N)
MAIN="$ROOT/server.py"
[ -z "$COMFYUI" ] || MAIN="$COMFYUI/main.py"
PYTHONUNBUFFERED=1 "$PY" "$MAIN" --base-directory "$SCRATCH" --port "$PORT" --cpu >"$LOG" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$PY" - "$PORT" "$LOG" "$START" "$SERVER" ${RUNS[@]+"${RUNS[@]}"} <<'EOF'
import json, os, re, sys, time, urllib.error, urllib.request, uuid

port, log, start, server = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
runs = sys.argv[5:]
base = f"http://127.0.0.1:{port}"


def server_alive():
    try:
        with open(f"/proc/{server}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return True


def get(path, timeout=5.0):
    with urllib.request.urlopen(base + path, timeout=timeout) as reply:
        return json.loads(reply.read())


deadline = time.time() + 600
while True:
    try:
        nodes = get("/object_info", timeout=600)
        break
    except OSError:
        if not server_alive():
            sys.exit(f"server exited before answering; log: {log}")
        if time.time() > deadline:
            sys.exit(f"server did not answer; log: {log}")
        time.sleep(0.2)
ready = time.time() - start


def cpu_seconds():
    """CPU seconds the server used so far (all threads) and its finished child processes:
    on a shared machine a steadier measure of start-up work than the wall clock."""
    try:
        with open(f"/proc/{server}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


cpu = cpu_seconds()


def packs_from_log():
    """Per-pack lines of the "Import times for custom nodes" block (a server without the
    /custom_nodes route: ComfyUI itself)."""
    found, lines = [], open(log, errors="replace").read().splitlines()
    starts = [i for i, line in enumerate(lines) if "Import times for custom nodes" in line]
    for line in lines[starts[-1] + 1:] if starts else []:
        match = re.match(r"^\s*([\d.]+) seconds( \(IMPORT FAILED\))?: (.+)$", line)
        if not match:
            break
        found.append({"name": match.group(3).rstrip("/").rsplit("/", 1)[-1], "nodes": [],
                      "status": "failed" if match.group(2) else "ok", "cause": "see the log",
                      "seconds": float(match.group(1))})
    return found


try:
    packs = get("/custom_nodes")["packs"]
except urllib.error.HTTPError:
    packs = packs_from_log()
print(f"{'pack':40} {'status':8} {'nodes':>5} {'import s':>8}  first error")
for pack in packs:
    error = "" if pack["status"] == "ok" else (pack["cause"] or "").splitlines()[0][:160]
    print(f"{pack['name'][:40]:40} {pack['status']:8} {len(pack['nodes']):5} "
          f"{pack['seconds']:8.2f}  {error}")
    if pack["status"] != "ok" and pack.get("hint"):
        print(f"{'':65}fix: {pack['hint']}")
    for caught in pack.get("caught_import_failures", [])[:3]:
        print(f"{'':65}caught at import: {caught}")
total = sum(p["seconds"] for p in packs)
print(f"\nnode types: {len(nodes)}; packs imported in {total:.2f} s; "
      f"/object_info answered {ready:.1f} s after launch; server log: {log}")
if cpu is not None:
    print(f"server CPU until then: {cpu[0]:.1f} s (+{cpu[1]:.1f} s in its child processes)")


def post(path, body):
    request = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return {"rejected": json.loads(exc.read() or b"{}")}


def rejection(answer):
    error = answer.get("error", {})
    nodes = [f"{nid} {e.get('class_type')}: {e['errors'][0].get('message')} {e['errors'][0].get('details', '')}"
             for nid, e in answer.get("node_errors", {}).items() if e.get("errors")]
    return "; ".join(nodes) or f"{error.get('message')} {error.get('details', '')}"


def outcome(entry):
    status = entry.get("status", {})
    for kind, data in status.get("messages", []):
        if kind == "execution_error":
            message = (data.get("exception_message") or "").strip().splitlines()
            return f"FAILED at node {data.get('node_id')} {data.get('node_type')}: {message[0] if message else ''}"
    outputs = {nid: {k: len(v) for k, v in out.items()} for nid, out in entry.get("outputs", {}).items()}
    return f"{status.get('status_str', '?')}: outputs {outputs}"


for run in runs:
    with open(run) as f:
        prompt = json.load(f)
    prompt = prompt.get("prompt", prompt)
    answer = post("/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})
    name = run.rsplit("/", 1)[-1]
    if "rejected" in answer:
        print(f"run {name}: REJECTED {rejection(answer['rejected'])[:300]}")
        continue
    deadline, entry = time.time() + 600, None
    while entry is None and time.time() < deadline:
        time.sleep(0.5)
        entry = get(f"/history/{answer['prompt_id']}").get(answer["prompt_id"])
    print(f"run {name}: " + (outcome(entry) if entry else "no result within 600 s")[:400])
EOF

if [ "$KEEP" = 1 ]; then
  echo "server on http://127.0.0.1:$PORT (base $SCRATCH); Ctrl-C stops it"
  wait "$SERVER"
fi
