"""ComfyUI's V3 dynamic inputs in our editor, in Chromium against the real server.

- The workflow ComfyUI's own frontend saved with BatchImagesNode, BatchMasksNode,
  BatchLatentsNode, ComfySwitchNode and ResizeImageMaskNode
  (tests/fixtures/frontend/v3_dynamic_inputs.json) opens, saves back as that frontend saved
  it, queues the prompt that frontend sent, and runs to the images it asks for; its API
  prompt alone opens to the same graph.
- Built by a user: nodes added from the search box, a growing list gains a socket per link
  dragged onto it, the switch takes the type of what is linked, picking another resize_type
  in the combo on the canvas swaps the widgets and sockets after it; the graph runs and
  survives a save and reload.
- Every built-in node can be added, and the values of its fresh widgets pass the server's
  own input validation (only its unlinked sockets are missing).
"""

from __future__ import annotations

import json

import pytest
from e2e_server import CHROMIUM, OWN_EDITOR, ROOT, ServerProcess, prepare_base
from test_e2e_browser_editor import Editor
from test_e2e_browser_primitive import drag_link

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.graph.validate_node import check_custom, check_inputs
from comfy_core.registry import NodeRegistry
from comfy_core.settings import Settings

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "frontend" / "v3_dynamic_inputs.json").read_text(encoding="utf-8"))
PROMPT = "() => { const p = window.comfyApp.graphToPrompt().prompt; return Object.fromEntries(Object.entries(p)" \
         ".map(([k, v]) => [k, {class_type: v.class_type, inputs: v.inputs}])); }"
SLOTS = """(id) => { const n = window.comfyApp.graph.getNodeById(id);
    return {inputs: n.inputs.map((s) => [s.name, s.type]), outputs: n.outputs.map((s) => s.type),
            widgets: (n.widgets ?? []).map((w) => w.name)}; }"""
# The sizes of the images a preview node shows once they are loaded.
SHOWN = """(id) => window.comfyApp.graph.getNodeById(id).imagesFor()
    .filter((i) => i.complete && i.naturalWidth).map((i) => [i.naturalWidth, i.naturalHeight])"""
WIDGET_KINDS = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base folder with an input image, an output image and an input latent, so the
    file combos of the loader nodes have a first choice that exists."""
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    base = prepare_base(tmp_path_factory.mktemp("browser_dynamic"))
    for folder in ("input", "output"):
        (base / folder).mkdir(exist_ok=True)
        Image.new("RGB", (24, 16), (40, 120, 200)).save(base / folder / "example.png")
    save_file({"latent_tensor": torch.zeros(1, 4, 2, 3), "latent_format_version_0": torch.tensor([])},
              str(base / "input" / "example.latent"))
    return base


@pytest.fixture(scope="module")
def server(base):
    proc = ServerProcess(base, *OWN_EDITOR)
    yield proc
    proc.stop()


@pytest.fixture()
def editor(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    ed = Editor(context.new_page(), server.url)
    ed.open()
    yield ed
    context.close()


def bare(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def saved_shape(workflow: dict) -> dict:
    """What a saved file says of each node's slots and values, and its links."""
    def slots(items, keys):
        return [{k: item.get(k) for k in keys} for item in items or []]
    nodes = {n["id"]: (n["type"], slots(n.get("inputs"), ("name", "type", "link", "widget", "shape")),
                       slots(n.get("outputs"), ("name", "type", "links")), n.get("widgets_values"))
             for n in workflow["nodes"]}
    return {"nodes": nodes, "links": sorted(map(tuple, workflow["links"]))}


def pick_combo(ed: Editor, node: int, widget: str, choice: str) -> None:
    """Click the combo widget on the canvas and pick `choice` from litegraph's menu."""
    point = ed.js("""([id, name]) => { const app = window.comfyApp; const n = app.graph.getNodeById(id);
        const w = n.widgets.find((w) => w.name === name);
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + 10]);
        const r = app.canvasElement.getBoundingClientRect(); return [x + r.left, y + r.top]; }""", [node, widget])
    ed.page.mouse.click(*point)
    ed.page.locator(".litecontextmenu .litemenu-entry", has_text=choice).first.click()


def wait_shown(ed: Editor, node: int, sizes: list) -> None:
    ed.page.wait_for_function(f"([id, want]) => JSON.stringify(({SHOWN})(id)) === JSON.stringify(want)",
                              arg=[node, sizes], timeout=30000)


def test_a_workflow_saved_by_comfyuis_frontend_loads_and_runs(editor, base):
    ed = editor
    ed.js("(wf) => window.comfyApp.loadWorkflow(wf, {quiet: true})", FIXTURE["workflow"])
    assert ed.js(PROMPT) == bare(FIXTURE["prompt"])
    assert ed.js(SLOTS, 4)["widgets"] == ["resize_type", "resize_type.width", "resize_type.height",
                                          "resize_type.crop", "scale_method"]
    assert ed.js(SLOTS, 3)["inputs"] == [[f"images.image{i}", "IMAGE"] for i in range(4)]
    assert ed.js(SLOTS, 5)["outputs"] == ["IMAGE"] and ed.js(SLOTS, 8)["outputs"] == ["MASK"]
    assert ed.js(SLOTS, 14)["widgets"] == ["resize_type", "resize_type.longer_size", "scale_method"]
    # saved again, the file says what the frontend's said: sockets (the spare ones too),
    # their types and shapes, widget values and links
    assert saved_shape(ed.js("() => window.comfyApp.serializeWorkflow()")) == saved_shape(FIXTURE["workflow"])

    ed.page.click("#queue-button")
    # the switch is on: 'scale dimensions' 40x24 of four batched images; the masks matched to
    # 32x32; 'scale by multiplier' 0.5 of 32x32; 'scale longer dimension' to the Int's 20
    for node, sizes in ((6, [[40, 24]] * 4), (10, [[32, 32]] * 2), (12, [[16, 16]] * 2), (15, [[20, 20]] * 2)):
        wait_shown(ed, node, sizes)
    assert (base / "output" / "latents" / "v3_00001_.latent").is_file()
    ed.wait_drawn()
    ed.shot("v3_dynamic_inputs_frontend_file")

    ed.js("() => window.comfyApp.loadWorkflow(window.comfyApp.serializeWorkflow(), {quiet: true})")
    assert ed.js(PROMPT) == bare(FIXTURE["prompt"])
    # the API prompt alone (a prompt file dropped on the editor) gives the same graph to queue
    ed.js("(prompt) => window.comfyApp.loadWorkflow(prompt, {quiet: true})", FIXTURE["prompt"])
    assert ed.js(PROMPT) == bare(FIXTURE["prompt"])
    assert ed.unexpected_problems() == []


def test_a_user_adds_grows_switches_and_runs(editor):
    ed = editor
    ed.clear_graph()
    add = "([t, x, y]) => window.comfyApp.addNodeAt(t, [x, y]).id"
    image = ed.js(add, ["EmptyImage", 40, 60])
    for name, value in (("width", 64), ("height", 48)):
        ed.set_widget(image, name, value)
    batch = ed.add_node_by_search("BatchImagesNode", 500, 120)
    ed.page.keyboard.press("Escape")
    ed.js("([id, x, y]) => { window.comfyApp.graph.getNodeById(id).pos = [x, y]; }", [batch, 380, 60])
    assert ed.js(SLOTS, batch)["inputs"] == [["images.image0", "IMAGE"], ["images.image1", "IMAGE"],
                                             ["images.image2", "IMAGE"]]
    ed.wait_drawn()
    for slot in range(3):  # two sockets and a spare; a link dragged onto the spare adds one
        drag_link(ed, image, 0, batch, slot)
        assert ed.js(SLOTS, batch)["inputs"][-1] == [f"images.image{max(2, slot + 1)}", "IMAGE"]
    switch = ed.add_node_by_search("ComfySwitchNode", 700, 400)
    ed.page.keyboard.press("Escape")
    ed.js("([id, x, y]) => { window.comfyApp.graph.getNodeById(id).pos = [x, y]; }", [switch, 640, 60])
    assert ed.js(SLOTS, switch)["outputs"] == ["*"]
    slot = "([id, name]) => window.comfyApp.graph.getNodeById(id).findInputSlot(name)"
    ed.link(batch, 0, switch, ed.js(slot, [switch, "on_true"]))
    assert ed.js(SLOTS, switch)["outputs"] == ["IMAGE"]
    assert dict(ed.js(SLOTS, switch)["inputs"])["on_false"] == "IMAGE"
    ed.link(image, 0, switch, ed.js(slot, [switch, "on_false"]))
    resize = ed.add_node_by_search("ResizeImageMaskNode", 700, 500)
    ed.page.keyboard.press("Escape")
    ed.js("([id, x, y]) => { window.comfyApp.graph.getNodeById(id).pos = [x, y]; }", [resize, 900, 60])
    assert ed.js(SLOTS, resize)["widgets"] == ["resize_type", "resize_type.multiplier", "scale_method"]
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
    wait_shown(ed, preview, [[40, 24]] * 3)
    ed.wait_drawn()
    ed.shot("v3_dynamic_inputs")

    ed.js("() => window.comfyApp.loadWorkflow(window.comfyApp.serializeWorkflow(), {quiet: true})")
    assert ed.js(PROMPT) == queued
    assert ed.js(SLOTS, batch)["inputs"][-1] == ["images.image3", "IMAGE"]
    assert ed.js(SLOTS, switch)["outputs"] == ["IMAGE"]
    assert ed.js(SLOTS, resize)["widgets"] == shown["widgets"]
    assert ed.unexpected_problems() == []


# Each node type alone on the canvas (once the choices of its remote combos arrived): its
# prompt entry, or what adding or converting it threw.
EVERY_NODE = """async () => { const app = window.comfyApp; const found = {};
    for (const type of Object.keys(app.defs)) {
      app.loadWorkflow({nodes: [], links: []}, {quiet: true});
      try {
        const node = app.addNodeAt(type, [100, 100]);
        await Promise.all((node.widgets ?? []).map((w) => w.remoteLoading));
        found[type] = {inputs: app.graphToPrompt().prompt[String(node.id)]?.inputs ?? null};
      } catch (error) { found[type] = {error: String(error)}; }
    }
    app.loadWorkflow({nodes: [], links: []}, {quiet: true}); return found; }"""


def builtin_registry() -> NodeRegistry:
    import nodes

    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    return registry


def is_widget(d) -> bool:
    return (d.is_combo or d.type in WIDGET_KINDS) and not d.options.get("forceInput")


def widget_problems(registry: NodeRegistry, class_type: str, inputs: dict) -> list:
    """What the server's validation says of a node's widget values: errors other than its
    missing sockets (combos that list files of empty folders cannot have a valid value)."""
    schema = registry.get(class_type)
    defs = schema.input_defs(inputs)
    missing = [d for name, d in defs.items() if d.category == "required" and name not in inputs]
    problems = [f"no value for widget {d.name}" for d in missing if is_widget(d)]
    errors, received = check_inputs("1", inputs, schema, defs, lambda value: None)
    if not errors and not missing:
        errors = check_custom("1", inputs, schema, defs, received, {"1": {"class_type": class_type, "inputs": inputs}})
    for err in errors:
        d = next((d for d in defs.values() if d.label == err["extra_info"].get("input_name")), None)
        if err["type"] == "required_input_missing" and d is not None and not is_widget(d):
            continue
        if err["type"] == "value_not_in_list" and d is not None and not d.choices:
            continue
        problems.append(f"{err['type']}: {err['details']}")
    return problems


def test_every_builtin_node_can_be_added_and_its_defaults_validate(editor, base):
    found = editor.js(EVERY_NODE)
    registry = builtin_registry()
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    bad = {}
    with runtime.use_app(ctx):
        names = sorted(registry.object_info())
        for name in names:
            entry = found.get(name)
            if entry is None or "error" in entry or entry["inputs"] is None:
                bad[name] = entry or "not offered by the editor"
                continue
            problems = widget_problems(registry, name, entry["inputs"])
            if problems:
                bad[name] = problems
    assert len(names) > 150
    assert bad == {}
    # its choices come from the server (the output folder), the first one taken
    assert found["LoadImageOutput"]["inputs"] == {"image": "example.png [output]", "refresh": "refresh"}
    assert editor.unexpected_problems() == []
