"""Every Stable Diffusion 1.x / 2.x / SDXL template of the installed workflow-template
packages, in ComfyUI's frontend: each opens from the template browser; each whose nodes
all exist here runs once its model names point at tiny generated checkpoints (the
frontend's own graphToPrompt, then the prompt posted to the API at 64x64 and 4 steps).
Templates needing nodes this server lacks are listed below with those nodes; the list is
compared with the server's /object_info, so it fails when a node lands (shrink it) or
goes missing."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from e2e_server import CHROMIUM
from frontend_page import FrontendPage, prepare_frontend_base, start_server

from comfy_core.api.templates import load_template_assets
from tests.fixtures.checkpoints import make_tiny_checkpoint

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
# The index's model tags of the families this project runs.
SD_FAMILIES = {"SD1.5", "SD1.x", "SD2", "SD2.1", "SD2.x", "SDXL"}
# Templates whose nodes are not all here yet: template -> the node types it lacks.
MISSING_NODES = {
    "image_lotus_depth_v1_1": {"LotusConditioning"},
    "sdxl_revision_text_prompts": {"CLIPVisionEncode", "CLIPVisionLoader", "unCLIPConditioning"},
}
# The model files the templates name -> the tiny checkpoint family standing in for it.
STAND_INS = {
    "v1-5-pruned-emaonly-fp16.safetensors": "sd15",
    "DreamShaper_8_pruned.safetensors": "sd15",
    "sd_xl_base_1.0.safetensors": "sdxl",
    "sd_xl_turbo_1.0_fp16.safetensors": "sdxl",
    "sd_xl_refiner_1.0.safetensors": "sdxl_refiner",
}
FRONTEND_ONLY = {"Note", "MarkdownNote", "PrimitiveNode", "Reroute"}
STEPS = 4


def sd_templates() -> dict[str, tuple[str, str]]:
    """name -> (template browser category, title) of every template tagged with one of
    SD_FAMILIES."""
    assets = load_template_assets()
    index = json.loads(assets["index.json"].read_text())
    return {entry["name"]: (category["title"], entry["title"]) for category in index
            for entry in category["templates"] if SD_FAMILIES & set(entry.get("models") or [])}


def workflow_node_types(workflow: dict) -> set[str]:
    """Node types a workflow (and its subgraph definitions) names, frontend-only ones and
    subgraph instances left out."""
    subgraphs = (workflow.get("definitions") or {}).get("subgraphs") or []
    ids = {s["id"] for s in subgraphs}
    types = {n["type"] for graph in [workflow, *subgraphs] for n in graph.get("nodes", [])}
    return types - ids - FRONTEND_ONLY


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def stand_in(prompt: dict) -> dict:
    """The prompt with tiny checkpoints, 64x64 latents and STEPS steps."""
    for node in prompt.values():
        inputs = node["inputs"]
        if isinstance(inputs.get("ckpt_name"), str):
            family = STAND_INS[inputs["ckpt_name"]]  # a new model name: add its stand-in
            inputs["ckpt_name"] = f"{family}_tiny.safetensors"
        for key in ("width", "height"):
            if node["class_type"] == "EmptyLatentImage":
                inputs[key] = 64
        if isinstance(inputs.get("steps"), int):
            inputs["steps"] = STEPS
        for key in ("start_at_step", "end_at_step"):
            if isinstance(inputs.get(key), int) and inputs[key] < 10000:
                inputs[key] = min(inputs[key], STEPS - 1)
    return prompt


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_frontend_base(tmp_path_factory.mktemp("templates"))
    for family in sorted(set(STAND_INS.values())):
        make_tiny_checkpoint(family, base / "models" / "checkpoints")
    proc = start_server(base)
    yield proc
    proc.stop()


def test_missing_node_list_is_current(server):
    templates = load_template_assets()
    known = set(get_json(server.url + "/object_info"))
    missing = {}
    for name in sd_templates():
        lacking = workflow_node_types(json.loads(templates[f"{name}.json"].read_text())) - known
        if lacking:
            missing[name] = lacking
    assert missing == MISSING_NODES


CARDS = "() => [...document.querySelectorAll('[data-testid^=template-workflow-]')].map((e) => e.dataset.testid)"


def open_template(page: FrontendPage, name: str, category: str, title: str, node_count: int) -> None:
    """Open `name` from the template browser as a user would: its category, a search for
    its title, then its card; the new tab holds the template's `node_count` nodes."""
    page.page.keyboard.press("Escape")
    page.run_command("Comfy.NewBlankWorkflow")
    page.page.wait_for_function("() => window.app.graph.nodes.length === 0")
    page.page.get_by_role("button", name="Templates").first.click()
    page.page.locator("nav, aside, [role=navigation]").get_by_text(category, exact=True).first.click()
    page.page.get_by_placeholder("Search").first.fill(title)
    wanted = f"template-workflow-{name}"
    shown: list = []
    for _ in range(120):  # until the filtered grid holds the card and stops changing
        now = page.js(CARDS)
        if wanted in now and now == shown:
            break
        shown = now
        page.page.wait_for_timeout(500)
    page.page.get_by_test_id(wanted).click()
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


def test_sd_templates_open_from_the_browser_and_run(browser, server):
    templates = sd_templates()
    assert {"default", "sdxl_simple_example"} <= set(templates)
    files = load_template_assets()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = FrontendPage(context, server.url).open()
        inputs = set()  # pictures the templates load: not installed, a 404 in ComfyUI too
        for name, (category, title) in sorted(templates.items()):
            workflow = json.loads(files[f"{name}.json"].read_text())
            inputs |= {n["widgets_values"][0] for n in workflow["nodes"] if n["type"] == "LoadImage"}
            open_template(page, name, category, title, len(workflow["nodes"]))
            page.shot(f"template_{name}")
            if name in MISSING_NODES:
                continue
            prompt = stand_in(page.js("window.app.graphToPrompt().then((p) => p.output)"))
            record = run_prompt(server, prompt)
            assert record["status"]["status_str"] == "success", (name, record["status"])
            images = [i for out in record["outputs"].values() for i in out.get("images", [])]
            assert images, name
        failures = {path.split("&rand=")[0] for _, path in page.unexpected_failures()}
        assert failures == {f"/api/view?type=input&filename={name}&subfolder=" for name in inputs}
    finally:
        context.close()
