#!/usr/bin/env bash
# Try ComfyUI custom-node packs on this server, as a user dropping them into custom_nodes/:
#
#   bash scripts/try_custom_nodes.sh [--keep] [--port N] [--python PY] [--models DIR]
#                                    [--run WORKFLOW.json]... PACK_DIR...
#
# Each PACK_DIR (a folder or a single .py file) is copied into custom_nodes/ of a scratch
# base directory (models/, input/, output/, user/ of its own: nothing of this checkout is
# touched), server.py starts on that base with --cpu, and once /object_info answers the
# script prints per pack: import status, node count, import seconds and the first error
# (the loader's cause line and fix), then the start-up times. Packages a pack needs are
# never installed: the failure names them. With --keep the server keeps running (Ctrl-C
# stops it) so routes and workflows can be tried by hand. PY defaults to the project venv;
# --models DIR links DIR as the scratch base's models/ folder (e.g. tiny generated weights
# from `python -m comfy_core.tools.make_checkpoint`). Each --run WORKFLOW.json (API format,
# as "Export (API)" saves it) is queued once the packs are loaded and reported as it ends:
# ok with its outputs, or the node and message that stopped it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
KEEP=0
PORT=""
MODELS=""
PACKS=()
RUNS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --port) PORT="$2"; shift ;;
    --python) PY="$2"; shift ;;
    --models) MODELS="$(cd "$2" && pwd)"; shift ;;
    --run) RUNS+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
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
"$PY" "$ROOT/server.py" --base-directory "$SCRATCH" --port "$PORT" --cpu >"$LOG" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$PY" - "$PORT" "$LOG" "$START" ${RUNS[@]+"${RUNS[@]}"} <<'EOF'
import json, sys, time, urllib.error, urllib.request, uuid

port, log, start, runs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4:]
base = f"http://127.0.0.1:{port}"


def get(path, timeout=5.0):
    with urllib.request.urlopen(base + path, timeout=timeout) as reply:
        return json.loads(reply.read())


deadline = time.time() + 600
while True:
    try:
        nodes = get("/object_info", timeout=600)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit(f"server did not answer; log: {log}")
        time.sleep(0.2)
ready = time.time() - start
packs = get("/custom_nodes")["packs"]
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
