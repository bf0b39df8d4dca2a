#!/usr/bin/env bash
# Every GPU benchmark of issue 6 in one command; the tables go to bench/results/gpu.md
# (raw figures to bench/results/*.json). Full-size random fp16 checkpoints (SD1.5, SDXL)
# are generated on this machine first (bench/results/base/models/checkpoints, reused).
#
#   bash bench/run_gpu.sh                 # everything, in the order below
#   bash bench/run_gpu.sh sd15 lowvram    # only some parts: checks sd15 sd15-compile
#                                         # sdxl sdxl-compile lowvram soak
#
# `checks` is the GPU correctness suite: the CUDA cases of the tests (every sampler on the
# device, CUDA step noise, no synchronisation inside the sampling loop, fp16/bf16 against
# fp32, streaming and partial loading on CUDA).
#
# PYTHON picks the interpreter (default .venv/bin/python); it needs CUDA torch, diffusers
# and transformers. Each part fits a 10-minute slot on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=bench/results/gpu.md
RES=bench/results
CKPTS=$RES/base/models/checkpoints
mkdir -p "$RES"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(checks sd15 sd15-compile sdxl sdxl-compile lowvram soak)

bench() { # name, then sd_bench.py arguments
  local name=$1; shift
  echo "== $name" | tee -a "$OUT"
  "$PY" bench/sd_bench.py "$@" --out "$OUT" --json "$RES/$name.json"
}

for part in "${parts[@]}"; do
  case $part in
    checks)
      echo "== checks: CUDA cases of the test suite" | tee -a "$OUT"
      "$PY" -m pytest -q -rs -p no:cacheprovider tests/sampling tests/memory tests/models \
        -k "cuda or CUDA" > "$RES/checks.log" 2>&1 || echo "FAILED: see $RES/checks.log" | tee -a "$OUT"
      tail -n 3 "$RES/checks.log" | tee -a "$OUT" ;;
    sd15) bench sd15 --family sd15 --size 512 --steps 20 --batches 1 4 --runs 5 --cold-runs 3 --ready-runs 5 ;;
    sd15-compile) bench sd15-compile --family sd15 --size 512 --steps 20 --batches 1 4 --runs 5 --compile --cold-runs 0 ;;
    sdxl) bench sdxl --family sdxl --size 1024 --steps 20 --batches 1 4 --runs 3 --cold-runs 3 ;;
    sdxl-compile) bench sdxl-compile --family sdxl --size 1024 --steps 20 --batches 1 4 --runs 3 --compile --cold-runs 0 ;;
    # diffusers' own offloading needs accelerate, so this one runs without the peer.
    lowvram) bench sdxl-lowvram-4gib --family sdxl --size 1024 --steps 20 --batches 1 --runs 1 --lowvram \
               --vram-cap-gib 4 --no-peer --cold-runs 0 ;;
    soak)
      [ -f "$CKPTS/sd15_full.safetensors" ] || "$PY" -m comfy_core.tools.make_checkpoint --family sd15 \
        --size full --out "$CKPTS/sd15_full.safetensors"
      echo "== soak: 50 SD1.5 512x512 jobs over the real server" | tee -a "$OUT"
      "$PY" bench/memory_soak.py --launch --checkpoint "$CKPTS/sd15_full.safetensors" --size 512 --steps 20 \
        --jobs 50 --warmup 10 | tail -n 1 | tee -a "$OUT" ;;
    *) echo "unknown part: $part (checks sd15 sd15-compile sdxl sdxl-compile lowvram soak)" >&2; exit 2 ;;
  esac
done
echo "tables in $OUT"
