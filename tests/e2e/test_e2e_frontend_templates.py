"""Every Stable Diffusion 1.x / 2.x / SDXL template of the installed workflow-template
packages, in ComfyUI's frontend: each opens from the template browser; each whose nodes
all exist here runs once its model names point at tiny generated stand-ins (the
frontend's own graphToPrompt, then the prompt on comfy_core.tools.stand_ins, as the headless
test tests/nodes/test_nodes_sd_templates.py runs it, posted to the API at a sixteenth of
its sizes and 2 steps).

Which templates lack nodes is computed from the server's /object_info, so the list shrinks
by itself as nodes land (a template then runs); the test reports that list as a warning
and fails when a template that runs today stops running (RUN_AT_LEAST)."""

from __future__ import annotations

import functools
import json
import re
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from e2e_server import CHROMIUM, ROOT
from frontend_page import FrontendPage, prepare_frontend_base, start_server
from PIL import Image

from comfy_core.api.templates import load_template_assets
from comfy_core.tools import stand_ins
from comfy_core.tools.shrink_prompt import shrink

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
# The index's model tags of the families this project runs.
SD_FAMILIES = {"SD1.5", "SD1.x", "SD2", "SD2.1", "SD2.x", "SDXL"}
# Templates that run here today; nodes landing only add to them.
RUN_AT_LEAST = {"default", "gsl_starter_1_1", "sdxl_simple_example", "sdxl_refiner_prompt_example",
                "sdxlturbo_example", "sdxl_revision_text_prompts", "image_lotus_depth_v1_1"}
MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|sft)$")
FRONTEND_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute"}
COMFYUI_NODES = ROOT / "tests" / "fixtures" / "comfyui-0.8.0-object_info.json"
STEPS = 2
SHRINK = 16  # 512 -> 32, 1024 -> 64 pixels


@functools.cache
def template_files() -> dict[str, Path]:
    return load_template_assets()


def sd_templates() -> dict[str, tuple[str, str]]:
    """name -> (template browser category, title) of every template tagged with one of
    SD_FAMILIES."""
    index = json.loads(template_files()["index.json"].read_text())
    return {entry["name"]: (category["title"], entry["title"]) for category in index
            for entry in category["templates"] if SD_FAMILIES & set(entry.get("models") or [])}


def template(name: str) -> dict:
    return json.loads(template_files()[f"{name}.json"].read_text())


def all_nodes(workflow: dict) -> list[dict]:
    """The nodes of a workflow and of its subgraph definitions."""
    subgraphs = (workflow.get("definitions") or {}).get("subgraphs") or []
    return [n for graph in [workflow, *subgraphs] for n in graph.get("nodes", [])]


def workflow_node_types(workflow: dict) -> set[str]:
    """Node types a workflow (and its subgraph definitions) names, frontend-only ones and
    subgraph instances left out."""
    ids = {s["id"] for s in (workflow.get("definitions") or {}).get("subgraphs") or []}
    return {n["type"] for n in all_nodes(workflow)} - ids - FRONTEND_ONLY


def widget_strings(workflow: dict, node_type: str | None = None) -> set[str]:
    """The text widget values of its nodes (of `node_type` only, when given); notes left out."""
    return {v for n in all_nodes(workflow) if node_type in (None, n["type"])
            and n["type"] not in FRONTEND_ONLY
            for v in n.get("widgets_values") or [] if isinstance(v, str)}


def lacking(workflow: dict, known: set[str]) -> set[str]:
    """What keeps a template from running here: the node types the server lacks."""
    return workflow_node_types(workflow) - known


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def on_stand_ins(prompt: dict, models: Path, object_info: dict) -> dict:
    """The prompt with its model files pointed at tiny random stand-ins, generated under
    `models` as needed (comfy_core.tools.stand_ins, as the headless templates test does),
    sizes divided by SHRINK and at most STEPS sampling steps."""
    entries = stand_ins.plan(prompt)
    stand_ins.write_stand_ins(entries, models)
    family = entries[0].family if entries else "sd15"
    stand_ins.write_embeddings(stand_ins.embedding_names(prompt), models, family)
    stand_ins.substitute(prompt, entries)
    return shrink(prompt, STEPS, object_info, factor=SHRINK)


def write_input_pictures(base: Path) -> None:
    """The pictures the templates' LoadImage nodes name (the packages ship none: a user
    adds their own), as small generated pictures."""
    (base / "input").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(sorted({v for t in sd_templates() for v in widget_strings(
            template(t), "LoadImage") if not MODEL_FILE.search(v) and v != "image"})):
        Image.new("RGB", (64, 64), (40 * i % 255, 120, 200)).save(base / "input" / name)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = prepare_frontend_base(tmp_path_factory.mktemp("templates"))
    write_input_pictures(base)
    return base


@pytest.fixture(scope="module")
def server(base):
    proc = start_server(base)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def not_runnable(server) -> dict[str, set[str]]:
    """template -> what it lacks here, for every SD template that cannot run yet."""
    known = set(get_json(server.url + "/object_info"))
    found = {name: lacking(template(name), known) for name in sd_templates()}
    return {name: missing for name, missing in found.items() if missing}


def test_templates_lacking_nodes_are_computed(not_runnable):
    assert {"default", "sdxl_simple_example"} <= set(sd_templates())
    assert not RUN_AT_LEAST & set(not_runnable), {n: not_runnable[n] for n in RUN_AT_LEAST & set(not_runnable)}
    comfyui = set(json.loads(COMFYUI_NODES.read_text()))
    for name, missing in not_runnable.items():  # each a gap of ours: ComfyUI 0.8.0 runs it
        assert missing <= comfyui, (name, missing)
    if not_runnable:
        warnings.warn("SD templates not run yet (what they lack): " + "; ".join(
            f"{n}: {', '.join(sorted(m))}" for n, m in sorted(not_runnable.items())), stacklevel=1)


def open_template(page: FrontendPage, name: str, category: str, title: str, node_count: int) -> None:
    """Open `name` from the template browser in a new blank tab; the tab then holds the
    template's `node_count` nodes."""
    page.page.keyboard.press("Escape")
    page.run_command("Comfy.NewBlankWorkflow")
    page.page.wait_for_function("() => window.app.graph.nodes.length === 0")
    page.open_template(name, category, title)
    page.page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=node_count,
                                timeout=60_000)


def run_prompt(server, prompt: dict, timeout: float = 300) -> dict:
    body = json.dumps({"prompt": prompt, "client_id": "templates-test"}).encode()
    request = urllib.request.Request(server.url + "/api/prompt", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        prompt_id = json.loads(resp.read())["prompt_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = get_json(f"{server.url}/api/history/{prompt_id}").get(prompt_id)
        if record:
            return record
        time.sleep(0.5)
    raise AssertionError(f"template prompt {prompt_id} did not finish")


def test_sd_templates_open_from_the_browser_and_run(browser, base, server, not_runnable):
    templates = sd_templates()
    object_info = get_json(server.url + "/object_info")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = FrontendPage(context, server.url).open()
        for name, (category, title) in sorted(templates.items()):
            workflow = template(name)
            open_template(page, name, category, title, len(workflow["nodes"]))
            page.shot(f"template_{name}")
            if name in not_runnable:
                continue
            prompt = on_stand_ins(page.js("window.app.graphToPrompt().then((p) => p.output)"),
                                  base / "models", object_info)
            record = run_prompt(server, prompt)
            assert record["status"]["status_str"] == "success", (name, record["status"])
            images = [i for out in record["outputs"].values() for i in out.get("images", [])]
            assert images, name
        assert page.unexpected_failures() == []
        assert page.console_errors() == []
    finally:
        context.close()
