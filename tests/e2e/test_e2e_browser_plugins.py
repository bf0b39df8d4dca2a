"""This project's own editor (`--front-end-root web`) on the same base folder as the
ComfyUI frontend tests: the core flow (a new user's first screen is the demo model's
text-to-image graph, which runs with live previews and shows its image on Save Image and
in the history; a later visit finds the same), and plugin browser scripts written for
ComfyUI's frontend: the example plugin tints its node, and a script importing
/scripts/app.js, api.js, widgets.js and ui.js gets every hook with ComfyUI's arguments
(the same checks run against ComfyUI's frontend in test_e2e_frontend.py)."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM, OWN_EDITOR, ServerProcess
from frontend_page import prepare_frontend_base
from hooks_plugin import EXERCISE_HOOKS, check_hooks, write_hooks_plugin
from test_e2e_browser_editor import Editor

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
DEMO_NAME = "demo/shapes-sd1-tiny.safetensors"
DEMO_GRAPH = ["CLIPTextEncode", "CLIPTextEncode", "CheckpointLoaderSimple", "EmptyLatentImage",
              "KSampler", "SaveImage", "VAEDecode"]
RECORD_EVENTS = """() => {
    const seen = window.__seen = {previews: 0, executed: []};
    const api = window.comfyAPI.api.api;
    api.addEventListener('b_preview', () => seen.previews++);
    api.addEventListener('executed', (e) => seen.executed.push(e.detail));
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_frontend_base(tmp_path_factory.mktemp("editor_plugins"))
    write_hooks_plugin(base)
    proc = ServerProcess(base, *OWN_EDITOR)
    yield proc
    proc.stop()


def open_editor(browser, server) -> Editor:
    ed = Editor(browser.new_context(viewport={"width": 1400, "height": 900}).new_page(), server.url)
    ed.open()
    return ed


def test_first_visit_shows_the_demo_graph_that_runs(browser, server):
    ed = open_editor(browser, server)
    try:
        assert ed.node_types() == DEMO_GRAPH
        assert ed.js("window.comfyApp.graph.getNodeById(4).widgets[0].value") == DEMO_NAME
        assert ed.js("window.comfyApp.graph.getNodeById(5).widgets[0].value") == 64
        ed.js(RECORD_EVENTS)
        ed.page.click("#queue-button")  # the user's latent2rgb preview setting is sent along
        ed.page.wait_for_function(
            "() => window.comfyApp.graph.getNodeById(9).imagesFor().some((i) => i.complete && i.naturalWidth === 64)",
            timeout=120_000)
        seen = ed.js("window.__seen")
        assert seen["previews"] > 0
        [executed] = seen["executed"]
        assert executed["node"] == "9" and executed["output"]["images"][0]["type"] == "output"
        ed.page.wait_for_function("() => [...document.querySelectorAll('#history-list .history-item.success img')]"
                                  ".some((i) => i.complete && i.naturalWidth > 0)", timeout=30_000)
        ed.shot("own_editor_demo_run")
        assert ed.unexpected_problems() == []
        later = open_editor(browser, server)  # a later visit, in another browser profile
        try:
            assert later.node_types() == DEMO_GRAPH and later.unexpected_problems() == []
        finally:
            later.page.context.close()
    finally:
        ed.page.context.close()


def test_plugin_scripts_run_in_the_own_editor(browser, server):
    ed = open_editor(browser, server)
    try:
        color = ed.js("""() => {
            const node = window.LiteGraph.createNode('ExampleRepeatText');
            window.comfyAPI.app.app.graph.add(node);
            return [node.color, node.bgcolor];
        }""")
        assert color == ["#335", "#446"]
        check_hooks(ed.js(EXERCISE_HOOKS))
        assert ed.js("window.comfyAPI.app.app.extensions.map((e) => e.name).sort()") == [
            "e2e.Hooks", "example_plugin.RepeatText"]
        ed.shot("plugins")
        assert ed.unexpected_problems() == []
    finally:
        ed.page.context.close()
