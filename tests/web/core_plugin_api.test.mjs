import { test } from "node:test";
import assert from "node:assert/strict";
import { adaptExtension } from "../../web/core/plugin_api.js";

/** The parts of the editor and plugin app the adapter reads. */
function fakes() {
  const editor = {
    objectInfo: { KSampler: { name: "KSampler", display_name: "KSampler", input: {} } },
    lib: { LiteGraph: { registered_node_types: { KSampler: class {} } } },
  };
  const app = { settings: { loaded: 0, load() { this.loaded += 1; } } };
  return { editor, app };
}

test("hooks get ComfyUI's arguments, the plugin app last", async () => {
  const { editor, app } = fakes();
  const calls = [];
  const ext = {
    name: "p",
    init: (...a) => calls.push(["init", ...a]),
    addCustomNodeDefs: (...a) => calls.push(["defs", ...a]),
    beforeRegisterNodeDef: (...a) => calls.push(["before", ...a]),
    nodeCreated: (...a) => calls.push(["created", ...a]),
    afterConfigureGraph: (...a) => calls.push(["after", ...a]),
  };
  const adapted = adaptExtension(ext, app, editor);
  assert.equal(adapted.name, "p");
  await adapted.init(editor);
  assert.equal(app.settings.loaded, 1);
  const raw = { KSampler: {} };
  adapted.addCustomNodeDefs(raw, editor);
  const NodeClass = class {};
  adapted.beforeRegisterNodeDef(NodeClass, { name: "KSampler", inputs: [] }, editor);
  adapted.nodeCreated("node", editor);
  adapted.afterConfigureGraph({ nodes: [{ type: "KSampler" }, { type: "Gone" }, { type: "Gone" }] }, editor);
  assert.deepEqual(calls, [
    ["init", app], ["defs", raw, app], ["before", NodeClass, editor.objectInfo.KSampler, app],
    ["created", "node", app], ["after", ["Gone"], app],
  ]);
  assert.equal(adapted.setup(), undefined); // hooks the plugin lacks do nothing
});

test("custom widgets made ComfyUI's way become editor widget factories", async () => {
  const { editor, app } = fakes();
  const seen = [];
  const adapted = adaptExtension({
    name: "w",
    getCustomWidgets: () => ({ SHADE: (node, name, data, a) => { seen.push([name, data, a]); return { widget: { name } }; } }),
  }, app, editor);
  const factories = await adapted.getCustomWidgets(editor);
  const widget = factories.SHADE({}, { name: "tint", type: "SHADE", options: { default: "#fff" } }, "#000", editor);
  assert.deepEqual(seen, [["tint", ["SHADE", { default: "#fff" }], app]]);
  assert.deepEqual(widget, { name: "tint", value: "#000" });
});
