#!/usr/bin/env bash
# Set up everything a fresh machine needs, then start the server on http://127.0.0.1:8188.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python server.py "$@"
