import { test } from "node:test";
import assert from "node:assert/strict";
import { normaliseNodeDef, parseInputSpec, typesCompatible } from "../../web/graph/node_defs.js";
import { loadDefs, loadObjectInfo } from "./helpers.mjs";

test("KSampler inputs keep input_order and widget kinds", () => {
  const def = loadDefs().KSampler;
  assert.deepEqual(def.inputs.map((i) => i.name), [
    "model", "seed", "steps", "cfg", "sampler_name", "scheduler", "positive", "negative", "latent_image", "denoise"]);
  assert.deepEqual(def.inputs.map((i) => i.widget), [
    null, "INT", "INT", "FLOAT", "COMBO", "COMBO", null, null, null, "FLOAT"]);
  assert.equal(def.inputs[4].options.values[0], "euler");
  assert.equal(def.category, "sampling");
  assert.deepEqual(def.outputs, [{ name: "LATENT", type: "LATENT", isList: false, tooltip: "The denoised latent." }]);
});

test("display names, hidden inputs, output nodes and deprecation come through", () => {
  const defs = loadDefs();
  assert.equal(defs.CheckpointLoaderSimple.displayName, "Load Checkpoint");
  assert.deepEqual(defs.SaveImage.hidden, ["prompt", "extra_pnginfo"]);
  assert.equal(defs.SaveImage.outputNode, true);
  assert.equal(defs.KSampler.outputNode, false);
  assert.equal(defs.CheckpointLoader.deprecated, true);
  assert.equal(defs.CLIPTextEncode.inputs[0].tooltip, "The text to be encoded.");
});

test("V3 COMBO specs and legacy lists both become COMBO with values", () => {
  assert.deepEqual(parseInputSpec(["COMBO", { options: ["a", "b"], default: "b" }]),
    { type: "COMBO", options: { options: ["a", "b"], default: "b", values: ["a", "b"] } });
  assert.deepEqual(parseInputSpec([["x", "y"]]), { type: "COMBO", options: { values: ["x", "y"] } });
});

test("forceInput turns a widget type into a socket; custom widget types are honoured", () => {
  const info = { input: { required: { a: ["INT", { forceInput: true }], b: ["MYWIDGET"] } }, output: [] };
  const plain = normaliseNodeDef("N", info);
  assert.deepEqual(plain.inputs.map((i) => i.widget), [null, null]);
  const custom = normaliseNodeDef("N", info, { customWidgetTypes: ["MYWIDGET"] });
  assert.equal(custom.inputs[1].widget, "MYWIDGET");
  assert.equal(custom.displayName, "N");
  assert.equal(custom.category, "sd");
});

test("missing input_order falls back to key order, optional after required", () => {
  const info = { input: { optional: { o: ["INT", {}] }, required: { r: ["MODEL"] } }, output: ["MODEL"] };
  assert.deepEqual(normaliseNodeDef("N", info).inputs.map((i) => [i.name, i.section]), [["r", "required"], ["o", "optional"]]);
});

test("type compatibility: equal, wildcard, comma unions", () => {
  assert.ok(typesCompatible("LATENT", "LATENT"));
  assert.ok(typesCompatible("*", "IMAGE"));
  assert.ok(typesCompatible("INT", "FLOAT,INT"));
  assert.ok(!typesCompatible("IMAGE", "LATENT"));
});

test("fixture is the V1 shape with keys in object_info order", () => {
  const keys = Object.keys(loadObjectInfo().KSampler);
  assert.deepEqual(keys, ["input", "input_order", "output", "output_is_list", "output_name", "name",
    "display_name", "description", "python_module", "category", "output_node", "output_tooltips"]);
});
