"""Touch on the canvas in Chromium with touch input: a tap selects a node, a one-finger
drag moves it (litegraph's pointer events), two fingers pinch-zoom (web/ui/touch.js)."""

from __future__ import annotations

import pytest
from e2e_server import CHROMIUM
from test_e2e_browser_editor import Editor, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")


def touch(cdp, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send("Input.dispatchTouchEvent", {
        "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})


def test_tap_drag_and_pinch_with_touch(browser, server):  # noqa: F811 (fixtures)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, has_touch=True)
    ed = Editor(context.new_page(), server.url)
    ed.open()
    ed.clear_graph()
    node = ed.js("() => window.comfyApp.addNodeAt('EmptyImage', [200, 200]).id")
    ed.js("() => window.comfyApp.canvas.deselectAll()")
    title = ed.js("""(id) => { const app = window.comfyApp; const n = app.graph.getNodeById(id);
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + 60, n.pos[1] - 15]);
        const r = app.canvasElement.getBoundingClientRect(); return [x + r.left, y + r.top]; }""", node)
    ed.page.touchscreen.tap(*title)
    ed.page.wait_for_function("(id) => window.comfyApp.graph.getNodeById(id).selected === true", arg=node)
    before = ed.js("(id) => [...window.comfyApp.graph.getNodeById(id).pos]", node)
    cdp = context.new_cdp_session(ed.page)
    touch(cdp, "touchStart", [title])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(title[0] + 30 * step, title[1] + 20 * step)])
    touch(cdp, "touchEnd", [])
    moved = ed.js("(id) => [...window.comfyApp.graph.getNodeById(id).pos]", node)
    assert moved[0] - before[0] == pytest.approx(150 / ed.js("window.comfyApp.canvas.ds.scale"), abs=2)
    scale = ed.js("window.comfyApp.canvas.ds.scale")
    touch(cdp, "touchStart", [(600, 600), (700, 600)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(600 - 10 * step, 600), (700 + 10 * step, 600)])
    touch(cdp, "touchEnd", [])
    assert ed.js("window.comfyApp.canvas.ds.scale") == pytest.approx(scale * 2, rel=0.05)
    assert ed.js("(id) => [...window.comfyApp.graph.getNodeById(id).pos]", node) == moved
    ed.shot("touch_pinch")
    assert ed.unexpected_problems() == []
    context.close()
