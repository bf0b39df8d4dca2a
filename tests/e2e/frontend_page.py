"""ComfyUI's own frontend (the installed comfyui-frontend-package) in Chromium, against the
real server.py: one page with what it logged and every same-origin HTTP failure, and the
few user actions the browser tests share (run, wait for a job, click a canvas widget).

The frontend is driven through its UI where a user would click (the Run button, template
cards, the mask editor, dialogs) and read through its public objects (`window.app`,
`window.comfyAPI`), never changed behind its back."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from e2e_server import ROOT, ServerProcess, prepare_base

SHOTS = ROOT / "test-output"
FRONT_END_ENV = "COMFY_TEST_FRONT_END_ROOT"
DEMO = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
# Same-origin answers >= 400 that ComfyUI 0.8.0 gives the same frontend too (path and query
# prefix -> why). Anything else a page receives fails the test that opened it.
COMFYUI_GIVES_TOO = {
    "/user.css": "index.html links a user stylesheet that exists only once the user writes one",
    "/api/userdata/user.css": "the same stylesheet, looked up in the user's folder",
    "/api/userdata/comfy.templates.json": "the user's saved node templates, none yet",
    "/api/userdata/workflows%2F.index.json": "the workflows sidebar's bookmarks, none yet",
    "/api/userdata?dir=workflows&": "listing saved workflows before the first save (no folder)",
    "/api/userdata?dir=subgraphs&": "listing saved subgraph blueprints (no folder)",
    "/api/view?type=input&filename=undefined&": "1.35 asks for the preview of a LoadImage "
                                               "added while the input folder is empty",
}
# Splash gone and canvas made before the graph is read (some releases log an error when
# app.graph is read before the app is set up).
READY = "() => !document.getElementById('splash-loader') && !!window.app?.canvas" \
        " && !!window.app.graph"


def prepare_frontend_base(base: Path) -> Path:
    """A base folder with the demo checkpoint (a copy: links out of the models folder are
    refused), the example plugin, the slow test node of e2e_server, and a user who chose
    latent2rgb live previews in the frontend's settings (sent with each prompt, so they
    arrive although the server's default is no previews)."""
    prepare_base(base)
    (base / "models" / "checkpoints" / "demo").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO, base / "models" / "checkpoints" / "demo" / DEMO.name)
    shutil.copytree(ROOT / "custom_nodes" / "example_plugin", base / "custom_nodes" / "example_plugin",
                    dirs_exist_ok=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    chosen = {"Comfy.Execution.PreviewMethod": "latent2rgb"}
    if os.environ.get(FRONT_END_ENV):  # an older build than requirements.txt pins, on purpose
        chosen["Comfy.VersionCompatibility.DisableWarnings"] = True
    settings.write_text(json.dumps(chosen))
    return base


def start_server(base: Path, *flags: str) -> ServerProcess:
    """server.py serving the installed frontend package, or the built frontend folder named
    by COMFY_TEST_FRONT_END_ROOT (how docs/frontend.md's version table was made)."""
    other = os.environ.get(FRONT_END_ENV)
    chosen = ("--front-end-root", other) if other else ()
    return ServerProcess(base, "--preview-method", "none", *chosen, *flags)


class FrontendPage:
    """One page of the served frontend and the problems it met."""

    def __init__(self, context, url: str) -> None:
        self.page = context.new_page()
        self.url = url
        self.origin = urlsplit(url).netloc
        self.console: list[tuple[str, str, str]] = []  # (type, text, source url)
        self.page_errors: list[str] = []
        self.failures: list[tuple[int, str]] = []  # (status, path?query) same-origin only
        self.page.on("console", lambda m: self.console.append(
            (m.type, m.text, (m.location or {}).get("url", ""))))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("response", self._record)

    def _record(self, response) -> None:
        parts = urlsplit(response.url)
        if response.status >= 400 and parts.netloc == self.origin:
            self.failures.append((response.status, parts.path + ("?" + parts.query if parts.query else "")))

    def open(self, timeout: float = 90_000) -> FrontendPage:
        self.page.goto(self.url + "/")
        self.page.wait_for_function(READY, timeout=timeout)
        self.page.wait_for_function("() => window.app.graph.nodes.length > 0 || "
                                    "document.querySelector('[data-testid=queue-button]')",
                                    timeout=timeout)
        return self

    def reload(self) -> FrontendPage:
        self.page.reload()
        self.page.wait_for_function(READY, timeout=90_000)
        return self

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"frontend_{name}.png"))

    def unexpected_failures(self) -> list[tuple[int, str]]:
        return [(status, path) for status, path in self.failures
                if not any(path == p or (p.endswith("&") and path.startswith(p))
                           for p in COMFYUI_GIVES_TOO)]

    def console_errors(self) -> list[str]:
        """Console errors other than a resource that failed (checked by status above) or
        that lives on another host (none can be reached from the test machine)."""
        out = []
        for kind, text, source in self.console:
            if kind != "error":
                continue
            foreign = source and urlsplit(source).netloc not in ("", self.origin)
            if foreign or text.startswith("Failed to load resource") or (
                    text.startswith("Refused to apply style") and any(p in text for p in COMFYUI_GIVES_TOO)):
                continue
            out.append(text)
        return out + self.page_errors

    def run_command(self, command: str) -> None:
        """Start a frontend command (what its menus and key bindings do); not awaited, as
        commands that ask the user something finish only once answered."""
        self.js("(id) => { window.app.extensionManager.command.execute(id); }", command)

    def record_events(self) -> None:
        """Collect the websocket events the frontend's API client dispatches."""
        self.js("""() => {
            const seen = window.__seen = {previews: 0, executed: [], errors: [], interrupted: []};
            const api = window.comfyAPI.api.api;
            api.addEventListener('b_preview_with_metadata', () => seen.previews++);
            api.addEventListener('executed', (e) => seen.executed.push(e.detail));
            api.addEventListener('execution_error', (e) => seen.errors.push(e.detail));
            api.addEventListener('execution_interrupted', (e) => seen.interrupted.push(e.detail));
        }""")

    def click_run(self) -> None:
        self.page.get_by_test_id("queue-button").click()

    def wait_executed(self, count: int = 1, timeout: float = 120_000) -> list[dict]:
        self.page.wait_for_function(
            "(n) => window.__seen.executed.length >= n || window.__seen.errors.length > 0",
            arg=count, timeout=timeout)
        seen = self.js("window.__seen")
        assert not seen["errors"], seen["errors"]
        return seen["executed"]

    def node(self, node_type: str) -> dict:
        return self.js("(t) => { const n = window.app.graph.nodes.find((n) => n.type === t);"
                       " return n && {id: n.id, widgets: Object.fromEntries((n.widgets ?? [])"
                       ".map((w) => [w.name, w.value]))}; }", node_type)

    def set_widget(self, node_type: str, name: str, value) -> None:
        """Set a widget as its own control would (value and callback), on the first node."""
        self.js("""([t, name, value]) => {
            const node = window.app.graph.nodes.find((n) => n.type === t);
            const widget = node.widgets.find((w) => w.name === name);
            widget.value = value;
            widget.callback?.(value, window.app.canvas, node);
            window.app.graph.setDirtyCanvas(true, true);
        }""", [node_type, name, value])

    def widget_point(self, node_id: int, widget: str) -> tuple[float, float]:
        """Page coordinates of the middle of a canvas widget (to click it as a user)."""
        return tuple(self.js("""([id, name]) => {
            const node = window.app.graph.getNodeById(id);
            const w = node.widgets.find((w) => w.name === name);
            const ds = window.app.canvas.ds, rect = window.app.canvas.canvas.getBoundingClientRect();
            const x = node.pos[0] + node.size[0] / 2, y = node.pos[1] + (w.y ?? w.last_y) + 10;
            return [rect.left + (x + ds.offset[0]) * ds.scale, rect.top + (y + ds.offset[1]) * ds.scale];
        }""", [node_id, widget]))


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1):
    """Poll `predicate` until it returns something truthy; that value, or an AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


HOOKS_PLUGIN_PY = '''
class E2EHooked:
    CATEGORY = "test"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"shade": ("E2E_SHADE", {"default": "#123456"}),
                             "count": ("INT", {"default": 3, "min": 0, "max": 10})}}

    def run(self, shade, count):
        return (shade * count,)


NODE_CLASS_MAPPINGS = {"E2EHooked": E2EHooked}
NODE_DISPLAY_NAME_MAPPINGS = {"E2EHooked": "Hooked (e2e)"}
WEB_DIRECTORY = "./js"
'''
# A browser script written for ComfyUI's frontend: it imports the four module paths
# plugins use and records every hook call in window.__hooks.
HOOKS_PLUGIN_JS = '''
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { ComfyWidgets } from "../../scripts/widgets.js";
import { $el } from "../../scripts/ui.js";

const calls = window.__hooks = [];
window.__hookModules = { fetchApi: typeof api.fetchApi, el: $el("div.e2e-made").className };
app.registerExtension({
  name: "e2e.Hooks",
  init(a) { calls.push(["init", a === app]); },
  setup(a) { calls.push(["setup", a === app, !!a.graph]); },
  addCustomNodeDefs(defs) { calls.push(["addCustomNodeDefs", "E2EHooked" in defs]); },
  getCustomWidgets() {
    return { E2E_SHADE(node, inputName, inputData) {
      return { widget: node.addWidget("text", inputName, inputData[1]?.default ?? "", () => {}) };
    } };
  },
  beforeRegisterNodeDef(nodeType, nodeData, a) {
    if (nodeData.name !== "E2EHooked") return;
    calls.push(["beforeRegisterNodeDef", nodeData.display_name]);
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      created?.apply(this, arguments);
      ComfyWidgets.STRING(this, "note", ["STRING", { default: "from plugin" }], a);
    };
  },
  nodeCreated(node) { if (node.comfyClass === "E2EHooked") calls.push(["nodeCreated"]); },
  loadedGraphNode(node) { if (node.comfyClass === "E2EHooked") calls.push(["loadedGraphNode"]); },
});
'''


def write_hooks_plugin(base: Path) -> None:
    """custom_nodes/e2e_hooks: one node with a custom widget type and the script above."""
    root = base / "custom_nodes" / "e2e_hooks"
    (root / "js").mkdir(parents=True, exist_ok=True)
    (root / "__init__.py").write_text(HOOKS_PLUGIN_PY)
    (root / "js" / "hooks.js").write_text(HOOKS_PLUGIN_JS)


# Run in the page: create a hooked node, then load a workflow holding one.
EXERCISE_HOOKS = """async () => {
    const app = window.comfyAPI.app.app;
    const node = window.LiteGraph.createNode('E2EHooked');
    app.graph.add(node);
    const widgets = Object.fromEntries(node.widgets.map((w) => [w.name, w.value]));
    const workflow = {last_node_id: 1, last_link_id: 0, nodes: [{id: 1, type: 'E2EHooked',
        pos: [100, 100], size: [300, 120], flags: {}, order: 0, mode: 0, inputs: [], outputs: [],
        properties: {}, widgets_values: ['#abcdef', 5, 'saved note']}], links: [], groups: [],
        config: {}, extra: {}, version: 0.4};
    await app.loadGraphData(workflow);
    return {widgets, calls: window.__hooks, modules: window.__hookModules};
}"""


def check_hooks(result: dict) -> None:
    """What EXERCISE_HOOKS must find in either UI."""
    names = [c[0] for c in result["calls"]]
    assert ["init", True] in result["calls"] and ["setup", True, True] in result["calls"]
    assert ["addCustomNodeDefs", True] in result["calls"]
    assert ["beforeRegisterNodeDef", "Hooked (e2e)"] in result["calls"]
    assert names.index("init") < names.index("setup")
    assert names.count("nodeCreated") >= 2 and "loadedGraphNode" in names
    assert result["widgets"]["shade"] == "#123456" and result["widgets"]["note"] == "from plugin"
    assert result["modules"] == {"fetchApi": "function", "el": "e2e-made"}
