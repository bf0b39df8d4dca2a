"""Convert to Subgraph in Chromium: the default graph's two CLIPTextEncode nodes selected
and turned into a subgraph from the node's context menu; the new type is registered, the
workflow saves as schema 0.4 with definitions (COMPAT 3.2), the API prompt is the one from
before with "<instance>:<inner>" ids, undo brings the nodes back, redo and a page reload
keep the subgraph; an opened subgraph is left with Escape."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM
from test_e2e_browser_editor import Editor, editor, server  # noqa: F401 (fixtures)
from test_e2e_browser_widgets import menu_entry

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

PROMPT = "window.comfyApp.graphToPrompt().prompt"
INSTANCES = "() => window.comfyApp.graph._nodes.filter((n) => n.isSubgraphNode?.()).map((n) => [n.id, n.type])"


def unflatten(prompt: dict, instance: int) -> dict:
    """The prompt with "<instance>:<inner>" ids (and links to them) turned back into "<inner>"."""
    prefix = f"{instance}:"

    def plain(value):
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            return [value[0].removeprefix(prefix), value[1]]
        return value

    return {key.removeprefix(prefix): {**entry, "inputs": {k: plain(v) for k, v in entry["inputs"].items()}}
            for key, entry in prompt.items()}


def test_convert_two_nodes_to_a_subgraph_undo_and_reload(editor):  # noqa: F811 (fixture)
    ed = editor
    before = ed.js(PROMPT)
    ed.js("""() => { const app = window.comfyApp; app.canvas.deselectAll();
        for (const id of [6, 7]) app.canvas.select(app.graph.getNodeById(id)); app.checkpoint(); }""")
    menu_entry(ed, 7, "Convert to Subgraph")
    [[instance, type_id]] = ed.js(INSTANCES)
    assert ed.js("(t) => Boolean(window.comfyApp.lib.LiteGraph.registered_node_types[t])", type_id)
    assert ed.js("() => window.comfyApp.graph._nodes.filter((n) => n.type === 'CLIPTextEncode').length") == 0
    workflow = ed.js("window.comfyApp.serializeWorkflow()")
    assert workflow["version"] == 0.4
    [definition] = workflow["definitions"]["subgraphs"]
    assert definition["id"] == type_id and definition["version"] == 1
    assert sorted(n["type"] for n in definition["nodes"]) == ["CLIPTextEncode", "CLIPTextEncode"]
    assert [i["type"] for i in definition["inputs"]] == ["CLIP"]
    assert [o["type"] for o in definition["outputs"]] == ["CONDITIONING", "CONDITIONING"]
    after = ed.js(PROMPT)
    assert sorted(k for k in after if ":" in k) == [f"{instance}:6", f"{instance}:7"]
    assert unflatten(after, instance) == before
    ed.shot("subgraph_converted")
    ed.page.keyboard.press("Control+z")
    assert ed.js(INSTANCES) == []
    assert ed.js("() => window.comfyApp.graph._nodes.filter((n) => n.type === 'CLIPTextEncode').map((n) => n.id).sort()") == [6, 7]
    assert ed.js(PROMPT) == before
    ed.page.keyboard.press("Control+y")
    assert ed.js(INSTANCES) == [[instance, type_id]]
    ed.wait_autosaved()
    ed.page.reload()
    ed.page.wait_for_selector("body[data-ready=true]")
    assert ed.js(INSTANCES) == [[instance, type_id]]
    assert ed.js(PROMPT) == after
    ed.js("(id) => { const app = window.comfyApp; app.canvas.openSubgraph(app.graph.getNodeById(id).subgraph); }", instance)
    assert ed.js("() => window.comfyApp.canvas.graph._nodes.map((n) => n.type)") == ["CLIPTextEncode", "CLIPTextEncode"]
    ed.page.keyboard.press("Escape")
    assert ed.js("() => window.comfyApp.canvas.graph === window.comfyApp.graph")
    assert ed.unexpected_problems() == []
