"""ComfyUI's V3 dynamic inputs in our editor, in Chromium against the real server: the
workflow ComfyUI's own frontend saved with BatchImagesNode, BatchMasksNode, ComfySwitchNode
and ResizeImageMaskNode (tests/fixtures/frontend/v3_dynamic_inputs.json) opens and queues
the prompt that frontend sent; built by hand, a growing list gains a socket per link, the
switch takes the type of what is linked, and picking another resize_type in the combo on
the canvas swaps the widgets and sockets after it; the graph runs and survives a reload."""

from __future__ import annotations

import json

import pytest
from e2e_server import CHROMIUM, ROOT
from test_e2e_browser_editor import Editor, editor, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "frontend" / "v3_dynamic_inputs.json").read_text(encoding="utf-8"))
PROMPT = "() => { const p = window.comfyApp.graphToPrompt().prompt; return Object.fromEntries(Object.entries(p)" \
         ".map(([k, v]) => [k, {class_type: v.class_type, inputs: v.inputs}])); }"
SLOTS = """(id) => { const n = window.comfyApp.graph.getNodeById(id);
    return {inputs: n.inputs.map((s) => [s.name, s.type]), outputs: n.outputs.map((s) => s.type),
            widgets: (n.widgets ?? []).map((w) => w.name)}; }"""


def bare(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def pick_combo(ed: Editor, node: int, widget: str, choice: str) -> None:
    """Click the combo widget on the canvas and pick `choice` from litegraph's menu."""
    point = ed.js("""([id, name]) => { const app = window.comfyApp; const n = app.graph.getNodeById(id);
        const w = n.widgets.find((w) => w.name === name);
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + 10]);
        const r = app.canvasElement.getBoundingClientRect(); return [x + r.left, y + r.top]; }""", [node, widget])
    ed.page.mouse.click(*point)
    ed.page.locator(".litecontextmenu .litemenu-entry", has_text=choice).first.click()


def test_v3_dynamic_inputs_show_link_and_queue(editor):  # noqa: F811 (fixture)
    ed = editor
    ed.js("(wf) => window.comfyApp.loadWorkflow(wf, {quiet: true})", FIXTURE["workflow"])
    assert ed.js(PROMPT) == bare(FIXTURE["prompt"])
    assert ed.js(SLOTS, 4)["widgets"] == ["resize_type", "resize_type.width", "resize_type.height",
                                          "resize_type.crop", "scale_method"]

    ed.clear_graph()
    add = "([t, x, y]) => window.comfyApp.addNodeAt(t, [x, y]).id"
    image = ed.js(add, ["EmptyImage", 40, 60])
    for name, value in (("width", 64), ("height", 48)):
        ed.set_widget(image, name, value)
    batch = ed.js(add, ["BatchImagesNode", 380, 60])
    assert [s[0] for s in ed.js(SLOTS, batch)["inputs"]] == ["images.image0", "images.image1", "images.image2"]
    for slot in range(3):
        ed.link(image, 0, batch, slot)
    assert ed.js(SLOTS, batch)["inputs"][-1] == ["images.image3", "IMAGE"]
    switch = ed.js(add, ["ComfySwitchNode", 640, 60])
    assert ed.js(SLOTS, switch)["outputs"] == ["*"]
    slot = "([id, name]) => window.comfyApp.graph.getNodeById(id).findInputSlot(name)"
    ed.link(batch, 0, switch, ed.js(slot, [switch, "on_true"]))
    assert ed.js(SLOTS, switch)["outputs"] == ["IMAGE"]
    assert dict(ed.js(SLOTS, switch)["inputs"])["on_false"] == "IMAGE"
    ed.link(image, 0, switch, ed.js(slot, [switch, "on_false"]))
    resize = ed.js(add, ["ResizeImageMaskNode", 900, 60])
    ed.link(switch, 0, resize, 0)
    ed.wait_drawn()
    pick_combo(ed, resize, "resize_type", "scale dimensions")
    shown = ed.js(SLOTS, resize)
    assert shown["widgets"] == ["resize_type", "resize_type.width", "resize_type.height", "resize_type.crop",
                                "scale_method"]
    assert shown["outputs"] == ["IMAGE"]
    ed.set_widget(resize, "resize_type.width", 40)
    ed.set_widget(resize, "resize_type.height", 24)
    preview = ed.js(add, ["PreviewImage", 1200, 60])
    ed.link(resize, 0, preview, 0)
    ed.js("(id) => { const n = window.comfyApp.graph.getNodeById(id); n.widgets[0].value = true; }", switch)
    queued = ed.js(PROMPT)
    assert queued[str(resize)]["inputs"] == {"input": [str(switch), 0], "resize_type": "scale dimensions",
                                             "resize_type.width": 40, "resize_type.height": 24,
                                             "resize_type.crop": "center", "scale_method": "area"}
    assert queued[str(batch)]["inputs"] == {f"images.image{i}": [str(image), 0] for i in range(3)}

    ed.page.click("#queue-button")
    ed.page.wait_for_function(
        "(id) => window.comfyApp.graph.getNodeById(id).imagesFor().filter((i) => i.complete && i.naturalWidth === 40)"
        ".length === 3", arg=preview, timeout=30000)
    ed.wait_drawn()
    ed.shot("v3_dynamic_inputs")

    ed.js("() => window.comfyApp.loadWorkflow(window.comfyApp.serializeWorkflow(), {quiet: true})")
    assert ed.js(PROMPT) == queued
    assert ed.js(SLOTS, batch)["inputs"][-1] == ["images.image3", "IMAGE"]
    assert ed.js(SLOTS, switch)["outputs"] == ["IMAGE"]
    assert ed.unexpected_problems() == []
