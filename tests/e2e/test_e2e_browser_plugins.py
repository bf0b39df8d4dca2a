"""Plugin browser scripts written for ComfyUI's frontend, in this project's own editor
(`--front-end-root web`): the example plugin tints its node, and a script importing
/scripts/app.js, api.js, widgets.js and ui.js gets every hook with ComfyUI's arguments
(the same checks run against ComfyUI's frontend in test_e2e_frontend.py)."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM, OWN_EDITOR, ServerProcess
from frontend_page import EXERCISE_HOOKS, check_hooks, prepare_frontend_base, write_hooks_plugin
from test_e2e_browser_editor import Editor

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_frontend_base(tmp_path_factory.mktemp("editor_plugins"))
    write_hooks_plugin(base)
    proc = ServerProcess(base, *OWN_EDITOR)
    yield proc
    proc.stop()


def test_plugin_scripts_run_in_the_own_editor(browser, server):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    ed = Editor(page, server.url)
    ed.open()
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
