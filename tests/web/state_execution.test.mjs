import { test } from "node:test";
import assert from "node:assert/strict";
import { initialExecutionState, nodeErrorMessages, outputImages, reduceExecution } from "../../web/state/execution_state.js";
import { Store } from "../../web/state/store.js";

function run(events) {
  return events.reduce((s, [t, d]) => reduceExecution(s, t, d), initialExecutionState());
}

test("a successful run: running node, progress, outputs, then the done signal", () => {
  const s1 = run([["status", { exec_info: { queue_remaining: 1 } }], ["execution_start", { prompt_id: "p" }],
    ["executing", { node: "3", display_node: "3", prompt_id: "p" }], ["progress", { value: 2, max: 4, node: "3", prompt_id: "p" }]]);
  assert.equal(s1.connected, true);
  assert.equal(s1.queueRemaining, 1);
  assert.equal(s1.runningNode, "3");
  assert.deepEqual(s1.progress, { value: 2, max: 4, node: "3" });
  const img = { filename: "ComfyUI_00001_.png", subfolder: "", type: "output" };
  const s2 = [["executed", { node: "9", display_node: "9", output: { images: [img] }, prompt_id: "p" }],
    ["execution_success", { prompt_id: "p" }], ["executing", { node: null, prompt_id: "p" }]]
    .reduce((s, [t, d]) => reduceExecution(s, t, d), s1);
  assert.equal(s2.runningNode, null);
  assert.equal(s2.progress, null);
  assert.equal(s2.lastFinished, "p");
  assert.deepEqual(outputImages(s2.outputs[9]), [img]);
  assert.deepEqual(outputImages(null), []);
});

test("errors and interrupts are kept until the next start; unknown events change nothing", () => {
  const err = { prompt_id: "p", node_id: "3", node_type: "KSampler", exception_message: "boom", exception_type: "RuntimeError" };
  const s = run([["execution_start", { prompt_id: "p" }], ["executing", { node: "3", prompt_id: "p" }], ["execution_error", err]]);
  assert.deepEqual(s.error, err);
  assert.equal(s.runningNode, null);
  assert.equal(reduceExecution(s, "whatever", {}), s);
  assert.equal(reduceExecution(s, "execution_start", { prompt_id: "q" }).error, null);
  assert.equal(run([["execution_interrupted", { prompt_id: "p", node_id: "3" }]]).interrupted.node_id, "3");
});

test("node_errors become readable messages per node", () => {
  const ne = { 3: { errors: [{ type: "value_not_in_list", message: "Value not in list", details: "sampler_name: 'x' not in [...]",
    extra_info: { input_name: "sampler_name" } }], dependent_outputs: ["9"], class_type: "KSampler" } };
  assert.deepEqual(nodeErrorMessages(ne), { 3: ["Value not in list (sampler_name): sampler_name: 'x' not in [...]"] });
});

test("the store notifies on change only and hands out frozen snapshots", () => {
  const store = new Store({ a: 1 });
  const seen = [];
  const off = store.subscribe((s, prev) => seen.push([s.a, prev.a]));
  store.update({ a: 2 });
  store.update((s) => s);
  store.update((s) => ({ ...s, a: 3 }));
  off();
  store.update({ a: 4 });
  assert.deepEqual(seen, [[2, 1], [3, 2]]);
  assert.ok(Object.isFrozen(store.state));
});

import { loadSavedWorkflow, loadSavedTabs, Autosaver, WORKFLOW_KEY } from "../../web/state/persistence.js";

test("the workflow survives a save/load through storage; garbage is ignored with a warning", () => {
  const map = new Map();
  const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v) };
  const warnings = [];
  const logger = { warn: (m) => warnings.push(m) };
  const tabs = { activeId: 1, tabs: [{ id: 1, workflow: { nodes: [] } }] };
  assert.equal(loadSavedWorkflow(storage, logger), null);
  assert.ok(new Autosaver(storage, logger).save({ nodes: [{ id: 1 }] }, tabs));
  assert.deepEqual(loadSavedWorkflow(storage, logger), { nodes: [{ id: 1 }] });
  assert.deepEqual(loadSavedTabs(storage, logger), tabs);
  map.set(WORKFLOW_KEY, "{not json");
  assert.equal(loadSavedWorkflow(storage, logger), null);
  assert.match(warnings[0], /ignoring the saved workflow/);
  const full = { getItem: () => null, setItem: () => { throw new Error("quota"); } };
  assert.equal(new Autosaver(full, logger).save({}, tabs), false);
});

test("the autosaver writes only what changed, whatever changed it", () => {
  const writes = [];
  const storage = { getItem: () => null, setItem: (k, v) => writes.push([k, v]) };
  const saver = new Autosaver(storage);
  const tabs = { activeId: 1, tabs: [{ id: 1 }] };
  const node = { id: 1, size: [200, 100] };
  saver.save({ nodes: [node] }, tabs);
  saver.save({ nodes: [node] }, tabs);
  assert.equal(writes.length, 2);
  node.size = [200, 300]; // resized to show an image: no graph version bump, still a change
  saver.save({ nodes: [node] }, tabs);
  assert.deepEqual(writes.slice(2), [[WORKFLOW_KEY, JSON.stringify({ nodes: [node] })]]);
});
