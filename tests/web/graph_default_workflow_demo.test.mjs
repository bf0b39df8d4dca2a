import { test } from "node:test";
import assert from "node:assert/strict";
import { DEMO_SETTINGS, defaultWorkflow, isDemoCheckpoint } from "../../web/graph/default_workflow.js";
import { loadDefs } from "./helpers.mjs";

function withCheckpoints(names) {
  const defs = structuredClone(loadDefs());
  defs.CheckpointLoaderSimple.inputs.find((i) => i.name === "ckpt_name").options.values = names;
  return defs;
}

const byId = (w) => Object.fromEntries(w.nodes.map((n) => [n.id, n]));

test("the demo checkpoint is recognised with either path separator", () => {
  assert.ok(isDemoCheckpoint("demo/shapes-sd1-tiny.safetensors"));
  assert.ok(isDemoCheckpoint("demo\\shapes-sd1-tiny.safetensors"));
  assert.ok(!isDemoCheckpoint("v1-5-pruned-emaonly.safetensors"));
  assert.ok(!isDemoCheckpoint(undefined));
});

test("the default workflow prefers the demo checkpoint, at 64x64 with a prompt it can draw", () => {
  const w = byId(defaultWorkflow(withCheckpoints(["a_real_model.safetensors", "demo/shapes-sd1-tiny.safetensors"])));
  assert.deepEqual(w[4].widgets_values, ["demo/shapes-sd1-tiny.safetensors"]);
  assert.deepEqual(w[5].widgets_values, [64, 64, 1]);
  assert.equal(w[6].widgets_values[0], DEMO_SETTINGS.positive);
  assert.equal(w[3].widgets_values[3], DEMO_SETTINGS.cfg);
});

test("other checkpoints keep the 512x512 defaults", () => {
  const w = byId(defaultWorkflow(withCheckpoints(["a_real_model.safetensors"])));
  assert.deepEqual(w[4].widgets_values, ["a_real_model.safetensors"]);
  assert.deepEqual(w[5].widgets_values, [512, 512, 1]);
  assert.equal(w[3].widgets_values[3], 8);
});
