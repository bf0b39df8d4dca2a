"""The Primitive node in Chromium on a tiny checkpoint: created from the search box, dragged
onto KSampler's seed (converted to an input) and linked to a second KSampler's seed widget
slot; both samplers get its value in the POST /prompt body the real server runs, the
"increment" control bumps it after the queue, undo/redo and a save/load round trip keep it
(extensions/core/primitive_node.js over graph/primitive.js)."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM, OWN_EDITOR, ServerProcess, prepare_base
from test_e2e_browser_editor import Editor
from test_e2e_browser_widgets import menu_entry

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

PRIMITIVE_STATE = """(id) => { const n = window.comfyApp.graph.getNodeById(id);
    return {output: [n.outputs[0].name, n.outputs[0].type, n.outputs[0].links?.length ?? 0],
            widgets: (n.widgets ?? []).map((w) => [w.name, w.value])}; }"""
SLOT_POS = """([id, kind, slot]) => { const app = window.comfyApp; const n = app.graph.getNodeById(id);
    const p = kind === 'out' ? n.getOutputPos(slot) : n.getInputPos(slot);
    const [x, y] = app.canvas.ds.convertOffsetToCanvas(p);
    const r = app.canvasElement.getBoundingClientRect(); return [x + r.left, y + r.top]; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.fixtures.checkpoints import make_tiny_checkpoint
    base = prepare_base(tmp_path_factory.mktemp("browser_primitive"))
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    proc = ServerProcess(base, *OWN_EDITOR)
    yield proc
    proc.stop()


@pytest.fixture()
def editor(browser, server):  # noqa: F811 (fixture)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    ed = Editor(context.new_page(), server.url)
    ed.open()
    yield ed
    context.close()


def drag_link(ed: Editor, origin: int, out_slot: int, target: int, in_slot: int) -> None:
    """Drag a link with the mouse from an output dot to an input dot."""
    start = ed.js(SLOT_POS, [origin, "out", out_slot])
    end = ed.js(SLOT_POS, [target, "in", in_slot])
    ed.page.mouse.move(*start)
    ed.page.mouse.down()
    ed.page.mouse.move(*end, steps=8)
    ed.page.mouse.up()
    ed.page.wait_for_function("([id, slot]) => window.comfyApp.graph.getNodeById(id).inputs[slot].link != null",
                              arg=[target, in_slot])


def test_primitive_drives_two_seeds_through_a_queue(editor):
    ed = editor
    ed.js("""() => { const app = window.comfyApp; app.canvas.ds.scale = 0.62; app.canvas.ds.offset = [320, 40]; app.markDirty(); }""")
    for node, name, value in ((5, "width", 64), (5, "height", 64), (3, "steps", 1), (3, "seed", 5)):
        ed.set_widget(node, name, value)
    second = ed.js("""() => { const app = window.comfyApp, g = app.graph, first = g.getNodeById(3);
        const n = app.addNodeAt('KSampler', [first.pos[0], first.pos[1] + 720]);
        for (const [from, out, slot] of [[4, 0, 'model'], [6, 0, 'positive'], [7, 0, 'negative'], [5, 0, 'latent_image']]) {
          g.getNodeById(from).connect(out, n, n.inputs.findIndex((s) => s.name === slot)); }
        n.widgets.find((w) => w.name === 'steps').value = 1; return n.id; }""")
    ed.page.keyboard.press("Escape")
    primitive = ed.add_node_by_search("primitive", 140, 650)
    assert ed.js("(id) => window.comfyApp.graph.getNodeById(id).type", primitive) == "PrimitiveNode"
    assert ed.js(PRIMITIVE_STATE, primitive) == {"output": ["connect to widget input", "*", 0], "widgets": []}
    ed.js("window.comfyApp.checkpoint()")
    menu_entry(ed, 3, "Convert seed to input")
    seed_slot = ed.js("() => window.comfyApp.graph.getNodeById(3).inputs.findIndex((s) => s.name === 'seed')")
    drag_link(ed, primitive, 0, 3, seed_slot)
    typed = ed.js(PRIMITIVE_STATE, primitive)
    assert typed == {"output": ["INT", "INT", 1], "widgets": [["value", 5], ["control_after_generate", "fixed"]]}, \
        "the primitive takes the seed's type, widget and current value"
    ed.page.keyboard.press("Control+z")
    assert ed.js(PRIMITIVE_STATE, primitive)["output"] == ["connect to widget input", "*", 0]
    ed.page.keyboard.press("Control+y")
    assert ed.js(PRIMITIVE_STATE, primitive) == typed
    refused = ed.js("""([p, id]) => { const g = window.comfyApp.graph, n = g.getNodeById(id);
        return [g.getNodeById(p).connect(0, n, n.inputs.findIndex((s) => s.name === 'model')),
                g.getNodeById(p).connect(0, n, n.inputs.findIndex((s) => s.widget?.name === 'cfg'))]; }""", [primitive, second])
    assert refused == [None, None], "plain sockets and other widget types are refused"
    ed.link(primitive, 0, second, ed.js("(id) => window.comfyApp.graph.getNodeById(id).inputs.findIndex((s) => s.widget?.name === 'seed')", second))
    ed.set_widget(primitive, "value", 4242)
    ed.set_widget(primitive, "control_after_generate", "increment")
    bodies = []
    ed.page.route("**/prompt", lambda route: (bodies.append(route.request.post_data_json), route.continue_()))
    ed.page.click("#queue-button")
    ed.page.wait_for_function("() => window.comfyApp.graph.getNodeById(9).imagesFor().some((i) => i.complete)", timeout=30000)
    prompt = bodies[0]["prompt"]
    assert prompt["3"]["inputs"]["seed"] == 4242 and prompt[str(second)]["inputs"]["seed"] == 4242
    assert "PrimitiveNode" not in {entry["class_type"] for entry in prompt.values()}
    saved = next(n for n in bodies[0]["extra_data"]["extra_pnginfo"]["workflow"]["nodes"] if n["id"] == primitive)
    assert saved["widgets_values"] == [4242, "increment"]
    assert ed.js(PRIMITIVE_STATE, primitive)["widgets"][0] == ["value", 4243], "increment ran after the queue"
    after = ed.js("window.comfyApp.graphToPrompt().prompt")
    assert after["3"]["inputs"]["seed"] == after[str(second)]["inputs"]["seed"] == 4243
    ed.js("() => window.comfyApp.loadWorkflow(window.comfyApp.serializeWorkflow(), {quiet: true})")
    assert ed.js(PRIMITIVE_STATE, primitive) == {"output": ["INT", "INT", 2],
                                                 "widgets": [["value", 4243], ["control_after_generate", "increment"]]}
    ed.shot("primitive")
    ed.js("""(id) => { const g = window.comfyApp.graph; for (const l of [...g.getNodeById(id).outputs[0].links]) {
        const link = g._links.get(l); g.getNodeById(link.target_id).disconnectInput(link.target_slot); } }""", primitive)
    assert ed.js(PRIMITIVE_STATE, primitive) == {"output": ["connect to widget input", "*", 0], "widgets": []}
    assert ed.unexpected_problems() == []
