#!/usr/bin/env bash
# Set up everything (venv, Python and npm packages, Chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install it (apt-get install chromium) for the browser tests" >&2
  fi
fi
mkdir -p test-output
if [ -d web/node_modules ] && ls tests/web/*.test.mjs >/dev/null 2>&1; then
  node --test tests/web/
fi
.venv/bin/python -m pytest -q "$@"
