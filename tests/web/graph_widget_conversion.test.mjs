import { test } from "node:test";
import assert from "node:assert/strict";
import {
  conversionEntries, convertToInput, convertToWidget, isConverted, restoreConversions,
} from "../../web/graph/widget_conversion.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { loadDefs } from "./helpers.mjs";

const defs = loadDefs();

/** A KSampler as the editor builds it: a widget slot per value widget, model first. */
function ksampler() {
  const widgets = [
    { name: "seed", type: "number", value: 42 },
    { name: "control_after_generate", type: "combo", value: "fixed" },
    { name: "steps", type: "number", value: 20 },
    { name: "cfg", type: "number", value: 8 },
    { name: "sampler_name", type: "combo", value: "euler" },
    { name: "scheduler", type: "combo", value: "normal" },
    { name: "denoise", type: "number", value: 1 },
  ];
  const inputs = [{ name: "model", type: "MODEL", link: null },
    ...widgets.filter((w) => w.name !== "control_after_generate").map((w) => ({ name: w.name, type: "X", link: null, widget: { name: w.name }, pos: [10, 50] }))];
  return { id: 3, inputs, widgets };
}

test("menu entries: one per value widget, none for the seed control or upload button", () => {
  const node = ksampler();
  node.widgets.push({ name: "upload", type: "button", value: "image" });
  const entries = conversionEntries(node, defs.KSampler);
  assert.deepEqual(entries.map((e) => e.content), ["Convert seed to input", "Convert steps to input", "Convert cfg to input",
    "Convert sampler_name to input", "Convert scheduler to input", "Convert denoise to input"]);
  assert.ok(entries.every((e) => e.toInput));
});

test("converting hides the widget, keeps the slot index and turns it into a plain socket", () => {
  const node = ksampler();
  const slot = convertToInput(node, "seed", "INT");
  assert.equal(node.inputs.indexOf(slot), 1);
  assert.equal(slot.widget, undefined);
  assert.equal(slot.pos, undefined);
  assert.equal(node.widgets[0].hidden, true);
  assert.deepEqual(node.widgets[0].computeSize(), [0, -4]);
  assert.ok(isConverted(node, "seed"));
  assert.equal(conversionEntries(node, defs.KSampler)[0].content, "Convert input seed to widget");
  assert.equal(node.widgets[0].value, 42, "the hidden widget keeps its value slot");
});

test("converting back restores the widget slot and the widget's own size function", () => {
  const node = ksampler();
  const own = () => [100, 90];
  node.widgets[2].computeSize = own;
  convertToInput(node, "steps", "INT");
  const slot = convertToWidget(node, "steps");
  assert.deepEqual(slot.widget, { name: "steps" });
  assert.equal(node.widgets[2].hidden, false);
  assert.equal(node.widgets[2].computeSize, own);
  convertToInput(node, "seed", "INT");
  convertToWidget(node, "seed");
  assert.equal(Object.hasOwn(node.widgets[0], "computeSize"), false);
  assert.equal(isConverted(node, "seed"), false);
});

test("a widget without a slot gets a socket appended; bad names are refused by name", () => {
  const node = ksampler();
  node.inputs = [node.inputs[0]];
  const slot = convertToInput(node, "cfg", "FLOAT");
  assert.deepEqual(slot, { name: "cfg", type: "FLOAT", link: null });
  assert.equal(node.inputs.length, 2);
  assert.throws(() => convertToInput(node, "nope", "INT"), /no widget 'nope'/);
  assert.throws(() => convertToWidget(node, "steps"), /'steps' of node 3 is not converted/);
});

test("a reloaded node with a plain socket named like a widget is hidden again", () => {
  const node = ksampler();
  delete node.inputs[1].widget;
  restoreConversions(node);
  assert.equal(node.widgets[0].hidden, true);
  assert.equal(node.widgets[2].hidden, undefined);
});

test("a converted socket's link wins over the kept widget value in the prompt (COMPAT 3.3)", () => {
  const workflow = {
    nodes: [
      { id: 1, type: "PrimitiveInt", mode: 0, inputs: [], outputs: [{ name: "INT", type: "INT", links: [5] }], widgets_values: [7, "fixed"] },
      { id: 3, type: "KSampler", mode: 0, inputs: [{ name: "seed", type: "INT", link: 5 }], outputs: [],
        widgets_values: [42, "fixed", 20, 8, "euler", "normal", 1] },
    ],
    links: [[5, 1, 0, 3, 0, "INT"]],
  };
  const prompt = workflowToPrompt(workflow, defs);
  assert.deepEqual(prompt[3].inputs.seed, ["1", 0]);
  assert.equal(prompt[3].inputs.steps, 20);
});
