#!/usr/bin/env bash
# Create .venv and install the runtime requirements (dev ones too with --dev).
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
py=.venv/bin/python
# torch first, pinned, so that the range in requirements.txt is already satisfied by the
# CPU build instead of pulling a multi-GB CUDA build.
if ! $py -c "import torch" 2>/dev/null; then
  $py -m pip install -q torch==2.13.0
fi
if [ $dev = 1 ]; then
  $py -m pip install -q -r requirements-dev.txt
  $py -m pip install -q --no-deps -r requirements-dev-nodeps.txt
else
  $py -m pip install -q -r requirements.txt
fi
$py -m pip install -q --no-deps -r requirements-nodeps.txt
if [ -f web/package.json ] && command -v npm >/dev/null; then
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
