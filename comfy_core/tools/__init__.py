"""Command-line tools (run with `python -m comfy_core.tools.<name>`)."""
