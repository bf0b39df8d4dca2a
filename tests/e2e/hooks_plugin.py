"""A test plugin written for ComfyUI's frontend: a node with a custom widget type and a
browser script importing the four module paths plugins use (/scripts/app.js, api.js,
widgets.js, ui.js) that records every extension hook it gets. The same plugin and checks
run in ComfyUI's frontend (test_e2e_frontend.py) and in the own editor
(test_e2e_browser_plugins.py)."""

from __future__ import annotations

from pathlib import Path

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
