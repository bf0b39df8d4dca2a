"""Widgets in Chromium: KSampler's seed converted to an input through the node's context
menu, fed by a PrimitiveInt, undone and redone, saved and reloaded, and converted back
(web/extensions/core/widget_inputs.js)."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM
from test_e2e_browser_editor import Editor, editor, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

SEED_STATE = """(id) => { const n = window.comfyApp.graph.getNodeById(id);
    const slot = n.inputs.find((s) => (s.widget?.name ?? s.name) === 'seed');
    return {hidden: Boolean(n.widgets.find((w) => w.name === 'seed').hidden), widgetSlot: Boolean(slot.widget),
            index: n.inputs.indexOf(slot), link: slot.link ?? null}; }"""


def menu_entry(ed: Editor, node: int, text: str) -> None:
    """Right-click the node's title and pick `text` from litegraph's context menu."""
    title = ed.js("""(id) => { const app = window.comfyApp; const n = app.graph.getNodeById(id);
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + 60, n.pos[1] - 15]);
        const r = app.canvasElement.getBoundingClientRect(); return [x + r.left, y + r.top]; }""", node)
    ed.page.mouse.click(*title, button="right")
    entry = ed.page.locator(".litecontextmenu .litemenu-entry", has_text=text)
    entry.first.click()
    ed.page.locator(".litecontextmenu").first.wait_for(state="detached")  # the entry has run


def seed_in_prompt(ed: Editor, node: int):
    return ed.js("(id) => window.comfyApp.graphToPrompt().prompt[id].inputs.seed", node)


def test_convert_seed_to_input_link_a_primitive_and_back(editor):  # noqa: F811 (fixture)
    ed = editor
    ed.clear_graph()
    ed.js("window.comfyApp.checkpoint()")
    sampler = ed.js("() => window.comfyApp.addNodeAt('KSampler', [500, 200]).id")
    primitive = ed.js("() => window.comfyApp.addNodeAt('PrimitiveInt', [100, 200]).id")
    ed.set_widget(sampler, "seed", 42)
    ed.set_widget(primitive, "value", 123)
    ed.js("window.comfyApp.checkpoint()")
    menu_entry(ed, sampler, "Convert seed to input")
    converted = ed.js(SEED_STATE, sampler)
    assert converted["hidden"] and not converted["widgetSlot"]
    ed.page.keyboard.press("Control+z")
    assert ed.js(SEED_STATE, sampler)["hidden"] is False
    ed.page.keyboard.press("Control+y")
    assert ed.js(SEED_STATE, sampler) == converted
    ed.link(primitive, 0, sampler, converted["index"])
    assert seed_in_prompt(ed, sampler) == [str(primitive), 0]
    values = ed.js("(id) => window.comfyApp.serializeWorkflow().nodes.find((n) => n.id === id).widgets_values", sampler)
    assert values[0] == 42 and len(values) == 7, "the converted widget keeps its widgets_values slot"
    ed.js("() => window.comfyApp.loadWorkflow(window.comfyApp.serializeWorkflow(), {quiet: true})")
    reloaded = ed.js(SEED_STATE, sampler)
    assert reloaded["hidden"] and not reloaded["widgetSlot"] and reloaded["link"] is not None
    assert seed_in_prompt(ed, sampler) == [str(primitive), 0]
    ed.shot("seed_converted")
    menu_entry(ed, sampler, "Convert input seed to widget")
    back = ed.js(SEED_STATE, sampler)
    assert back == {"hidden": False, "widgetSlot": True, "index": back["index"], "link": None}
    assert seed_in_prompt(ed, sampler) == 42
    assert ed.unexpected_problems() == []


def test_preview_image_node_grows_to_fit_its_image(editor):  # noqa: F811 (fixture)
    ed = editor
    ed.clear_graph()
    source = ed.js("() => window.comfyApp.addNodeAt('EmptyImage', [60, 120]).id")
    sink = ed.js("() => window.comfyApp.addNodeAt('PreviewImage', [420, 120]).id")
    ed.link(source, 0, sink, 0)
    for name, value in (("width", 384), ("height", 192), ("color", 0xCC6622)):
        ed.set_widget(source, name, value)
    before = ed.js("(id) => [...window.comfyApp.graph.getNodeById(id).size]", sink)
    ed.page.click("#queue-button")
    ed.page.wait_for_function(
        "(id) => window.comfyApp.graph.getNodeById(id).imagesFor().some((i) => i.complete && i.naturalWidth === 384)",
        arg=sink, timeout=20000)
    ed.page.wait_for_function("([id, w]) => window.comfyApp.graph.getNodeById(id).size[0] > w",
                              arg=[sink, before[0]], timeout=20000)
    width, height = ed.js("(id) => [...window.comfyApp.graph.getNodeById(id).size]", sink)
    assert width == 384 + 20, "the image area takes the image's own width (under the cap)"
    assert before[1] + 192 <= height + 10 <= before[1] + 192 + 40, "and its height at the same aspect"
    ed.shot("preview_fit")
    assert ed.unexpected_problems() == []
