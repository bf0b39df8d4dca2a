"""ComfyUI's own frontend, the default UI, in Chromium against the real server.py: first and
later visits (console, HTTP answers, the start-up graph), the demo graph run with live
previews and the image on the Save Image node and in the assets panel, the template
browser, node help, upload + mask editor, saved workflows, interrupt, a plugin script and
settings. One server and one browser for the module; screenshots in test-output/."""

from __future__ import annotations

import json
import re

import pytest
from e2e_server import CHROMIUM
from frontend_page import FrontendPage, prepare_frontend_base, start_server, wait_until
from hooks_plugin import EXERCISE_HOOKS, check_hooks, write_hooks_plugin

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
DEMO_NAME = "demo/shapes-sd1-tiny.safetensors"
DEMO_GRAPH = ["CLIPTextEncode", "CLIPTextEncode", "CheckpointLoaderSimple", "EmptyLatentImage",
              "KSampler", "SaveImage", "VAEDecode"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = prepare_frontend_base(tmp_path_factory.mktemp("frontend"))
    write_hooks_plugin(path)
    return path


@pytest.fixture(scope="module")
def server(base):
    proc = start_server(base)
    yield proc
    proc.stop()


@pytest.fixture
def context(browser):
    """A fresh browser profile (nothing in its local storage) per test."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()


def open_page(context, server) -> FrontendPage:
    return FrontendPage(context, server.url).open()


def node_types(page: FrontendPage) -> list[str]:
    return sorted(page.js("window.app.graph.nodes.map((n) => n.type)"))


def assert_clean(page: FrontendPage) -> None:
    assert page.unexpected_failures() == []
    assert page.console_errors() == []


def test_first_visit_shows_a_demo_graph_that_runs(context, server, browser):
    page = open_page(context, server)
    page.shot("first_visit")
    assert node_types(page) == DEMO_GRAPH
    assert page.node("CheckpointLoaderSimple")["widgets"]["ckpt_name"] == DEMO_NAME
    assert page.node("EmptyLatentImage")["widgets"]["width"] == 64
    assert not page.js("!!document.querySelector('[data-testid^=template-workflow-]')")
    page.record_events()
    page.click_run()
    [executed] = page.wait_executed()
    image = executed["output"]["images"][0]
    assert image["type"] == "output" and image["filename"].endswith(".png")
    assert page.js("window.__seen.previews") > 0  # live previews asked for per prompt
    page.page.wait_for_function(
        "(f) => window.app.graph.nodes.find((n) => n.type === 'SaveImage').imgs?.some("
        "(i) => i.src.includes(f) && i.complete && i.naturalWidth === 64)", arg=image["filename"])
    page.sidebar_tab("assets").click()
    page.page.wait_for_selector(f"img[src*='{image['filename']}']", timeout=30_000)
    page.shot("demo_run")
    assert_clean(page)
    # The start-up extension did its work (it logs a warning when it could not).
    assert not [text for _, text, _ in page.console if text.startswith("[comfy_core]")]
    page.reload()  # a later visit in the same browser: the frontend reopens its workflow
    page.page.wait_for_function("(n) => window.app.graph.nodes.length === n", arg=len(DEMO_GRAPH))
    assert node_types(page) == DEMO_GRAPH
    assert_clean(page)
    again = browser.new_context(viewport={"width": 1400, "height": 900})  # and in another
    try:
        later = FrontendPage(again, server.url).open()
        assert node_types(later) == DEMO_GRAPH
        assert_clean(later)
    finally:
        again.close()


def test_template_browser_opens_and_runs_sd15_text_to_image(context, server):
    page = open_page(context, server)
    assert page.open_template("default", "Getting Started", "Image Generation") >= 12
    page.page.wait_for_function("() => window.app.graph.nodes.some("
                                "(n) => n.widgets?.some((w) => w.value === 'v1-5-pruned-emaonly-fp16.safetensors'))")
    page.shot("template_default")
    page.set_widget("CheckpointLoaderSimple", "ckpt_name", DEMO_NAME)
    page.set_widget("EmptyLatentImage", "width", 64)
    page.set_widget("EmptyLatentImage", "height", 64)
    page.set_widget("KSampler", "steps", 4)
    page.record_events()
    page.click_run()
    [executed] = page.wait_executed()
    assert executed["output"]["images"][0]["filename"].startswith("SD1.5")
    assert_clean(page)


def test_node_help_logs_panel_and_model_library(context, server):
    page = open_page(context, server)
    page.js("() => { const n = window.app.graph.nodes.find((n) => n.type === 'KSampler');"
            " window.app.canvas.selectNode(n); window.app.canvas.setDirty(true, true); }")
    try:
        with page.page.expect_response(lambda r: "/docs/" in r.url, timeout=60_000) as doc:
            page.page.get_by_test_id("info-button").click()
    finally:
        page.shot("node_help")
    assert doc.value.status == 200 and doc.value.url.endswith("/docs/KSampler/en.md")
    page.page.get_by_text("denoise", exact=False).first.wait_for(timeout=15_000)
    page.shot("node_help")
    with page.page.expect_response(lambda r: r.url.endswith("/internal/logs/subscribe")) as subscribed:
        page.page.get_by_role("button", name="Toggle Bottom Panel").click()  # the server's log
    assert subscribed.value.status == 200
    page.page.get_by_text("nodes ready in", exact=False).first.wait_for(timeout=15_000)
    page.sidebar_tab("model-library").click()
    with page.page.expect_response(lambda r: r.url.endswith("/api/experiment/models/checkpoints")) as listed:
        page.page.get_by_text("checkpoints", exact=True).first.click()
    assert listed.value.status == 200 and listed.value.json()[0]["name"] == DEMO_NAME
    page.page.get_by_text("demo", exact=True).first.wait_for(timeout=15_000)
    assert_clean(page)


def test_upload_mask_editor_save_and_queue_with_the_mask(context, server, base, tmp_path):
    from PIL import Image

    picture = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(picture)
    page = open_page(context, server)
    ids = page.js("""() => {
        const g = window.app.graph, L = window.LiteGraph;
        g.clear();
        const load = L.createNode('LoadImage'); load.pos = [100, 100]; g.add(load);
        const toImage = L.createNode('MaskToImage'); toImage.pos = [450, 100]; g.add(toImage);
        const save = L.createNode('SaveImage'); save.pos = [750, 100]; g.add(save);
        load.connect(1, toImage, 0); toImage.connect(0, save, 0);
        window.app.canvas.setDirty(true, true);
        return [load.id, save.id];
    }""")
    page.upload_through_widget(ids[0], "upload", picture)
    wait_until(lambda: page.node("LoadImage")["widgets"]["image"] == "red.png")
    wait_until((base / "input" / "red.png").is_file)
    # The mask editor opens only on a node whose picture has loaded (else it logs an error).
    page.page.wait_for_function("(id) => window.app.graph.getNodeById(id).imgs?.some("
                                "(i) => i.complete && i.naturalWidth === 64)", arg=ids[0])
    page.js("(id) => window.app.canvas.selectNode(window.app.graph.getNodeById(id))", ids[0])
    page.run_command("Comfy.MaskEditor.OpenMaskEditor")
    layer = page.page.locator("canvas.z-10")  # the mask layer over the picture
    layer.wait_for(timeout=15_000)
    box = layer.bounding_box()
    page.page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=12)
    page.page.mouse.up()
    with page.page.expect_response(lambda r: "/upload/" in r.url) as uploaded:
        page.page.locator("button:visible", has_text=re.compile(r"^\s*Save\s*$")).last.click()
    assert uploaded.value.status == 200  # 1.35 posts /upload/mask, newer ones /upload/image layers
    masked = wait_until(lambda: "clipspace" in str(page.node("LoadImage")["widgets"]["image"])
                        and page.node("LoadImage")["widgets"]["image"])
    page.shot("mask_saved")
    page.record_events()
    page.click_run()
    [executed] = page.wait_executed()
    out = base / "output" / executed["output"]["images"][0]["filename"]
    mask = Image.open(out).convert("L")
    assert masked and mask.getextrema() == (0, 255)  # the stroke, and the untouched rest
    assert_clean(page)


def test_save_reopen_and_rename_a_workflow(context, server, base):
    page = open_page(context, server)
    page.run_command("Comfy.SaveWorkflow")
    page.answer_prompt("shapes demo")
    saved = base / "user" / "default" / "workflows" / "shapes demo.json"
    wait_until(saved.is_file)
    assert sorted(n["type"] for n in json.loads(saved.read_text())["nodes"]) == DEMO_GRAPH
    page.run_command("Comfy.NewBlankWorkflow")
    page.page.wait_for_function("() => window.app.graph.nodes.length === 0")
    page.sidebar_tab("workflows").click()
    page.page.get_by_text("shapes demo", exact=True).last.click()
    page.page.wait_for_function("() => window.app.graph.nodes.length === 7")
    page.rename_workflow("shapes demo", "circles")
    renamed = base / "user" / "default" / "workflows" / "circles.json"
    wait_until(lambda: renamed.is_file() and not saved.exists())
    page.shot("workflow_renamed")
    assert_clean(page)


def test_interrupt_a_run(context, server):
    page = open_page(context, server)
    page.js("""() => {
        const g = window.app.graph; g.clear();
        const slow = window.LiteGraph.createNode('E2ESlow'); slow.pos = [200, 200]; g.add(slow);
        slow.widgets.find((w) => w.name === 'steps').value = 2000;
    }""")
    page.record_events()
    with page.page.expect_response(lambda r: r.url.endswith("/api/prompt")) as queued:
        page.click_run()
    prompt_id = queued.value.json()["prompt_id"]
    page.page.wait_for_function("() => window.app.graph.nodes[0].progress > 0 || "
                                "document.querySelector('[aria-label=\"Cancel current run\"]:not([disabled])')")
    with page.page.expect_response(lambda r: "/interrupt" in r.url) as interrupted:
        page.page.get_by_role("button", name="Cancel current run").click()
    assert interrupted.value.status == 200
    page.page.wait_for_function("() => window.__seen.interrupted.length > 0", timeout=30_000)
    history = wait_until(lambda: page.js(f"fetch('/api/history/{prompt_id}').then((r) => r.json())"))
    status = history[prompt_id]["status"]
    assert status["status_str"] == "error" and not status["completed"]
    assert status["messages"][-1][0] == "execution_interrupted"
    assert_clean(page)


def test_plugin_scripts_register_extensions_and_change_nodes(context, server):
    page = open_page(context, server)
    urls = page.js("fetch('/api/extensions').then((r) => r.json())")
    assert {"/extensions/example_plugin/example_plugin.js", "/extensions/e2e_hooks/hooks.js"} <= set(urls)
    color = page.js("""() => {
        const node = window.LiteGraph.createNode('ExampleRepeatText');
        window.app.graph.add(node);
        return [node.color, node.bgcolor];
    }""")
    assert color == ["#335", "#446"]
    check_hooks(page.js(EXERCISE_HOOKS))
    assert_clean(page)


def test_settings_survive_a_reload(context, server, base):
    page = open_page(context, server)
    assert page.js("window.app.extensionManager.setting.get('Comfy.Graph.CanvasInfo')") is True
    page.run_command("Comfy.ShowSettingsDialog")
    page.page.get_by_placeholder("Search").last.fill("canvas info")
    toggle = page.page.locator("[id='Comfy.Graph.CanvasInfo'], "
                               "[data-setting-id='Comfy.Graph.CanvasInfo'] input").first
    with page.page.expect_response(lambda r: "/settings/Comfy.Graph.CanvasInfo" in r.url):
        toggle.click()
    settings = json.loads((base / "user" / "default" / "comfy.settings.json").read_text())
    assert settings["Comfy.Graph.CanvasInfo"] is False
    page.reload()
    assert page.js("window.app.extensionManager.setting.get('Comfy.Graph.CanvasInfo')") is False
    assert_clean(page)
