"""`comfy.options`: ComfyUI's switch for parsing argv when `comfy.cli_args` is imported.

Here `args` always reflects the server's own Settings (parsed once at start), so the switch
is kept for packs that call it and changes nothing."""

from __future__ import annotations

args_parsing = False


def enable_args_parsing(enable: bool = True) -> None:
    global args_parsing
    args_parsing = enable
