"""`python -m comfy_core run WORKFLOW.json`: run an API prompt or a UI workflow headless
(also the workflow embedded in a PNG or WebP picture ComfyUI saved).

Progress goes to stderr, the paths of the saved files to stdout; on failure the structured
error JSON is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import logging
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Sequence

from comfy_core.files import FolderPaths
from comfy_core.graph.validate import validate_prompt
from comfy_core.graph.workflow_convert import WorkflowError, is_ui_workflow, workflow_to_prompt
from comfy_core.images.embedded import read_graphs
from comfy_core.api.plugin_server import PromptServer
from comfy_core.registry.plugin_env import enable_facades
from comfy_core.registry.prestartup import run_prestartup_scripts
from comfy_core.runtime import AppContext, use_app
from comfy_core.services import build_executor, build_memory, build_registry
from comfy_core.settings import parse_settings


PICTURE_SUFFIXES = (".png", ".webp")


def _fail(error: dict, node_errors: dict | None = None) -> int:
    print(json.dumps({"error": error, "node_errors": node_errors or {}}, indent=2))
    return 1


def _load(path: Path) -> tuple[dict, dict]:
    """(API prompt or UI workflow, extra_pnginfo) from a JSON file, or from the graphs a
    PNG / WebP picture carries (its workflow, else its prompt), as the editor opens them."""
    if path.suffix.lower() in PICTURE_SUFFIXES:
        prompt, workflow = read_graphs(path)
        if workflow is None and prompt is None:
            raise ValueError(f"{path.name} carries no workflow or prompt")
        return (workflow, {"workflow": workflow}) if workflow is not None else (prompt, {})
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "prompt" in data and isinstance(data["prompt"], dict):
        data = data["prompt"]
    return data, ({"workflow": data} if is_ui_workflow(data) else {})


def _printer(event: Any) -> None:
    data = event.data
    if event.type == "executing" and data.get("node") is not None:
        print(f"running node {data['node']}", file=sys.stderr)
    elif event.type == "progress":
        print(f"  step {data['value']}/{data['max']}", file=sys.stderr)


def _output_paths(folders: FolderPaths, outputs: dict) -> list[Path]:
    paths = []
    for ui in outputs.values():
        for items in (ui or {}).values():
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and "filename" in item:
                    base = folders.directory_of(item.get("type", "output"))
                    paths.append(base / item.get("subfolder", "") / item["filename"])
    return paths


def run_command(workflow: Path, server_args: Sequence[str]) -> int:
    settings = parse_settings(list(server_args), os.environ)
    folders = FolderPaths.from_settings(settings)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    try:
        data, pnginfo = _load(workflow)
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return _fail({"type": "invalid_workflow", "message": f"cannot read {workflow}",
                      "details": str(exc), "extra_info": {}})
    enable_facades(folders, settings)  # custom nodes load as under the server
    PromptServer(None, settings)  # packs find PromptServer.instance; no websocket clients
    run_prestartup_scripts(folders, settings)  # after it, as in server.py (feature flags)
    memory, _ = build_memory(settings)
    with use_app(AppContext(folders=folders, settings=settings, memory=memory)) as app:
        return _run(app, settings, data, pnginfo)


def _run(app: AppContext, settings: Any, data: dict, pnginfo: dict) -> int:
    folders = app.folders
    registry, _, _ = build_registry(settings, folders, memory=app.memory)
    try:
        prompt = workflow_to_prompt(data, registry.object_info()) if pnginfo else data
    except WorkflowError as exc:
        return _fail({"type": "invalid_workflow", "message": "cannot convert the workflow",
                      "details": str(exc), "extra_info": {}})
    check = validate_prompt(registry, prompt)
    if not check.ok:
        return _fail(check.error, check.node_errors)
    executor = build_executor(registry, settings)
    extra = {"extra_pnginfo": pnginfo} if pnginfo else {}

    def execute() -> Any:
        with use_app(app):
            return executor.run(check.prompt or prompt, uuid.uuid4().hex, extra, check.outputs,
                                _printer, threading.Event())

    result = contextvars.copy_context().run(execute)
    if result.status_str != "success":
        return _fail({"type": "execution_failed", "message": "the prompt failed",
                      "details": json.dumps(result.error), "extra_info": result.error or {}})
    for path in _output_paths(folders, result.outputs):
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comfy_core")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an API prompt or UI workflow JSON file (or the workflow a "
                                     "PNG/WebP picture carries) headless; "
                                     "other flags are the server's (see server.py --help)")
    run.add_argument("workflow", type=Path)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_command(args.workflow, rest)
