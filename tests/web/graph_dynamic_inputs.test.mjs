// ComfyUI's V3 dynamic inputs in the editor's pure modules, against ComfyUI 0.8.0's own
// /object_info (BatchImagesNode: growing list; ComfySwitchNode: type-following inputs and
// output; ResizeImageMaskNode: both a type-following input and a dynamic combo) and the
// workflow ComfyUI's frontend saved for them (tests/fixtures/frontend/v3_dynamic_inputs.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { findInput } from "../../web/graph/node_defs.js";
import { inputsToWidgetValues, widgetLayout, widgetValuesToInputs } from "../../web/graph/widget_values.js";
import { autogrowChanges, matchTypeChanges } from "../../web/graph/dynamic_inputs.js";
import { promptToWorkflow } from "../../web/graph/from_prompt.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { loadDefs } from "./helpers.mjs";

const defs = loadDefs();
const names = (def, opts) => widgetLayout(def, opts).map((slot) => slot.name);
const frontend = JSON.parse(readFileSync(new URL("../fixtures/frontend/v3_dynamic_inputs.json", import.meta.url), "utf8"));

test("the three kinds are read from /object_info", () => {
  const [images] = defs.BatchImagesNode.inputs;
  assert.equal(images.type, "IMAGE");
  assert.equal(images.widget, null);
  assert.deepEqual([images.options.autogrow.prefix, images.options.autogrow.min, images.options.autogrow.max], ["image", 2, 50]);
  const onFalse = defs.ComfySwitchNode.inputs.find((i) => i.name === "on_false");
  assert.deepEqual([onFalse.type, onFalse.options.matchType, onFalse.options.lazy], ["*", "switch", true]);
  assert.deepEqual(defs.ComfySwitchNode.outputs[0], { name: "output", type: "*", isList: false, tooltip: undefined, matchType: "switch" });
  const [input, resizeType] = defs.ResizeImageMaskNode.inputs;
  assert.deepEqual([input.type, input.options.matchType], ["IMAGE,MASK", "input_type"]);
  assert.equal(resizeType.widget, "COMBO");
  assert.equal(resizeType.options.values.length, 8);
  assert.deepEqual(resizeType.options.choices["match size"].map((i) => [i.name, i.type, i.widget]),
    [["resize_type.match", "IMAGE,MASK", null], ["resize_type.crop", "COMBO", "COMBO"]]);
});

test("a dynamic combo's saved choice picks the widgets after it", () => {
  const def = defs.ResizeImageMaskNode;
  assert.deepEqual(names(def), ["resize_type", "resize_type.multiplier", "scale_method"]);
  assert.deepEqual(names(def, { values: ["match size", "center", "area"] }), ["resize_type", "resize_type.crop", "scale_method"]);
  assert.deepEqual(widgetValuesToInputs(def, ["scale dimensions", 40, 24, "disabled", "bilinear"]).values, {
    resize_type: "scale dimensions", "resize_type.width": 40, "resize_type.height": 24,
    "resize_type.crop": "disabled", scale_method: "bilinear" });
  // an option the definition does not have falls back to the default option's widgets
  assert.deepEqual(names(def, { values: ["stretch"] }), ["resize_type", "resize_type.multiplier", "scale_method"]);
  assert.deepEqual(inputsToWidgetValues(def, { resize_type: "scale dimensions", "resize_type.width": 40 }),
    ["scale dimensions", 40, 512, "center", "area"]);
});

test("inputs that dynamic inputs add are found by name", () => {
  assert.deepEqual(findInput(defs.BatchImagesNode, "images.image7"),
    { ...defs.BatchImagesNode.inputs[0].options.autogrow.template, name: "images.image7", section: "optional", options: {} });
  assert.equal(findInput(defs.BatchImagesNode, "images.image1").section, "required");
  assert.equal(findInput(defs.BatchImagesNode, "images.image50"), null);
  assert.equal(findInput(defs.BatchImagesNode, "images.imageX"), null);
  assert.equal(findInput(defs.ResizeImageMaskNode, "resize_type.width").widget, "INT");
  assert.equal(findInput(defs.ResizeImageMaskNode, "resize_type.match").type, "IMAGE,MASK");
  assert.equal(findInput(defs.ResizeImageMaskNode, "scale_method").widget, "COMBO");
});

test("a growing list shows its linked sockets and one spare, at least min + 1", () => {
  const [images] = defs.BatchImagesNode.inputs;
  const slot = (i, link = null) => ({ name: `images.image${i}`, link });
  assert.deepEqual(autogrowChanges(images, []).add.map((i) => [i.name, i.section]),
    [["images.image0", "required"], ["images.image1", "required"], ["images.image2", "optional"]]);
  assert.deepEqual(autogrowChanges(images, [slot(0, 1), slot(1, 2), slot(2, 3)]).add.map((i) => i.name), ["images.image3"]);
  // unlinking the last one drops the spare after it; a gap keeps the sockets up to the last link
  assert.deepEqual(autogrowChanges(images, [slot(0, 1), slot(1), slot(2), slot(3)]), { add: [], remove: [3] });
  assert.deepEqual(autogrowChanges(images, [slot(0), slot(1), slot(2, 5), slot(3)]), { add: [], remove: [] });
  const full = Array.from({ length: 50 }, (_, i) => slot(i, i + 1));
  assert.deepEqual(autogrowChanges(images, full), { add: [], remove: [] });
});

test("type-following inputs and outputs take the type of the first link", () => {
  const def = defs.ComfySwitchNode;
  const slots = [{ name: "switch", link: null, widget: { name: "switch" } }, { name: "on_false", link: null }, { name: "on_true", link: 7 }];
  assert.deepEqual(matchTypeChanges(def, slots, (id) => (id === 7 ? "IMAGE" : undefined)),
    { inputs: [[1, "IMAGE"]], outputs: [[0, "IMAGE"]] });
  slots[2].link = null;
  assert.deepEqual(matchTypeChanges(def, slots, () => undefined), { inputs: [[1, "*"], [2, "*"]], outputs: [[0, "*"]] });
  const resize = [{ name: "input", link: 3 }, { name: "resize_type.match", link: null }];
  assert.deepEqual(matchTypeChanges(defs.ResizeImageMaskNode, resize, () => "MASK"), { inputs: [], outputs: [[0, "MASK"]] });
  resize[0].link = null;
  assert.deepEqual(matchTypeChanges(defs.ResizeImageMaskNode, resize, () => undefined),
    { inputs: [[0, "IMAGE,MASK"]], outputs: [[0, "*"]] });
});

test("the frontend's workflow: prompt -> workflow -> prompt is the identity", () => {
  const strip = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { class_type: v.class_type, inputs: v.inputs }]));
  const workflow = promptToWorkflow(frontend.prompt, defs);
  const resize = workflow.nodes.find((n) => n.id === 4);
  assert.deepEqual(resize.widgets_values, ["scale dimensions", 40, 24, "disabled", "bilinear"]);
  const batch = workflow.nodes.find((n) => n.id === 3);
  assert.deepEqual(batch.inputs.map((s) => [s.name, s.type]), [["images.image0", "IMAGE"], ["images.image1", "IMAGE"], ["images.image2", "IMAGE"]]);
  assert.deepEqual(strip(workflowToPrompt(workflow, defs)), strip(frontend.prompt));
});
