import { test } from "node:test";
import assert from "node:assert/strict";
import { promptToWorkflow } from "../../web/graph/from_prompt.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { defaultPrompt, defaultWorkflow } from "../../web/graph/default_workflow.js";
import { checkWorkflow, compactWidgetInputs, isApiPrompt } from "../../web/graph/workflow_format.js";
import { loadDefs } from "./helpers.mjs";

const defs = loadDefs();
const strip = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { class_type: v.class_type, inputs: v.inputs }]));

test("API prompt -> workflow -> API prompt is the identity", () => {
  const prompt = defaultPrompt("tiny_sd1.safetensors");
  prompt[10] = { class_type: "ImageScale", inputs: { image: ["8", 0], upscale_method: "area", width: ["5", 0], height: 64, crop: "center" } };
  prompt[11] = { class_type: "EmptyLatentImage", inputs: { width: { __value__: [1, 2] }, height: 64, batch_size: 1 } };
  const back = workflowToPrompt(promptToWorkflow(prompt, defs), defs);
  assert.deepEqual(strip(back), strip(JSON.parse(JSON.stringify(prompt))));
});

test("workflow -> prompt -> workflow keeps values, links and titles", () => {
  const first = defaultWorkflow(defs);
  const second = promptToWorkflow(workflowToPrompt(first, defs), defs);
  const byId = (w) => Object.fromEntries(w.nodes.map((n) => [n.id, n]));
  const a = byId(first);
  const b = byId(second);
  for (const id of Object.keys(a)) {
    assert.equal(b[id].type, a[id].type);
    assert.equal(b[id].title, a[id].title);
    const values = a[id].widgets_values.map((v) => (v === "randomize" ? "fixed" : v));
    assert.deepEqual(b[id].widgets_values, values, `widgets of ${id}`);
  }
  assert.equal(second.links.length, first.links.length);
});

test("built workflows have consistent link tables and compact inputs", () => {
  const w = defaultWorkflow(defs);
  const nodes = Object.fromEntries(w.nodes.map((n) => [n.id, n]));
  for (const [id, origin, oslot, target, tslot, type] of w.links) {
    assert.equal(nodes[target].inputs[tslot].link, id);
    assert.ok(nodes[origin].outputs[oslot].links.includes(id));
    assert.equal(nodes[origin].outputs[oslot].type, type);
  }
  assert.deepEqual(nodes[3].inputs.map((i) => i.name), ["model", "positive", "negative", "latent_image"]);
  assert.deepEqual(nodes[3].widgets_values, [0, "randomize", 20, 8, "euler", "normal", 1]);
  assert.equal(w.last_node_id, 9);
  assert.equal(w.version, 0.4);
  const xs = [4, 3, 8, 9].map((id) => nodes[id].pos[0]);
  assert.deepEqual([...xs].sort((p, q) => p - q), xs, "columns follow dependency depth");
});

test("compactWidgetInputs drops unlinked widget slots and renumbers link targets", () => {
  const w = { nodes: [
    { id: 1, type: "A", inputs: [], outputs: [] },
    { id: 2, type: "B", outputs: [], inputs: [
      { name: "model", type: "MODEL", link: null }, { name: "seed", type: "INT", link: null, widget: { name: "seed" } },
      { name: "steps", type: "INT", link: 7, widget: { name: "steps" } }] },
  ], links: [[7, 1, 0, 2, 2, "INT"]] };
  const c = compactWidgetInputs(w);
  assert.deepEqual(c.nodes[1].inputs.map((i) => i.name), ["model", "steps"]);
  assert.deepEqual(c.links, [[7, 1, 0, 2, 1, "INT"]]);
  assert.equal(w.nodes[1].inputs.length, 3, "input is not mutated");
});

test("file shape checks tell prompts from workflows and name what is wrong", () => {
  assert.ok(isApiPrompt(defaultPrompt("x")));
  assert.ok(!isApiPrompt(defaultWorkflow(defs)));
  assert.ok(!isApiPrompt({}));
  assert.throws(() => checkWorkflow([]), /JSON object/);
  assert.throws(() => checkWorkflow({ links: [] }), /no 'nodes' list/);
  assert.throws(() => checkWorkflow({ nodes: [{ id: 1 }] }), /node 1 has no type/);
  assert.ok(checkWorkflow(defaultWorkflow(defs)));
});
