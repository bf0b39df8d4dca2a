import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PRIMITIVE_SEARCH_DEF, adoptConfig, filterChoices, fitValue, hasPrimitiveControl, mergeAll, mergeConfigs,
  primitiveWidgetNames, primitiveWidgetValues, readPrimitiveValues, widgetInputOf,
} from "../../web/graph/primitive.js";
import { searchNodes, firstProvidingOutput } from "../../web/graph/node_search.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { applyValueControls } from "../../web/extensions/core/value_control.js";
import { loadDefs } from "./helpers.mjs";

const defs = loadDefs();
const input = (cls, name) => defs[cls].inputs.find((i) => i.name === name);
const config = (cls, name) => adoptConfig(input(cls, name));

test("a widget slot and a converted socket both stand for their widget input; plain sockets do not", () => {
  assert.equal(widgetInputOf(defs.KSampler, { name: "seed", widget: { name: "seed" } }).name, "seed");
  assert.equal(widgetInputOf(defs.KSampler, { name: "seed", type: "INT" }).name, "seed");
  assert.equal(widgetInputOf(defs.KSampler, { name: "model", type: "MODEL" }), null);
  assert.equal(widgetInputOf(undefined, { name: "seed" }), null, "nodes without a definition (Reroute) are refused");
});

test("the adopted config keeps the value options and drops what only describes the target", () => {
  const seed = config("KSampler", "seed");
  assert.equal(seed.name, "value");
  assert.equal(seed.widget, "INT");
  assert.equal(seed.options.min, 0);
  assert.equal(seed.options.max, input("KSampler", "seed").options.max);
  assert.equal(seed.options.tooltip, undefined);
  assert.equal(seed.options.control_after_generate, undefined);
  const cfg = config("KSampler", "cfg");
  assert.deepEqual([cfg.options.step, cfg.options.round], [0.1, 0.01]);
  const sampler = config("KSampler", "sampler_name");
  assert.deepEqual(sampler.options.values, input("KSampler", "sampler_name").options.values);
  assert.notEqual(sampler.options.values, input("KSampler", "sampler_name").options.values, "a copy, not the def's list");
  assert.equal(config("CLIPTextEncode", "text").options.multiline, true);
  assert.equal(config("LoadImage", "image").options.image_upload, undefined, "no upload button on a primitive");
});

test("same-type targets merge to the common range and the coarser step", () => {
  const { config: merged } = mergeConfigs(config("KSampler", "seed"), config("KSampler", "steps"));
  assert.deepEqual([merged.options.min, merged.options.max], [1, 10000]);
  const sizes = mergeConfigs(config("ImageScale", "width"), config("EmptyLatentImage", "width")).config;
  assert.deepEqual([sizes.options.min, sizes.options.max, sizes.options.step], [16, 16384, 8]);
  const seeds = mergeAll([config("KSampler", "seed"), config("KSamplerAdvanced", "noise_seed")]);
  assert.equal(seeds.config.options.max, input("KSampler", "seed").options.max);
  const combos = mergeConfigs(config("KSampler", "sampler_name"), config("KSamplerAdvanced", "sampler_name"));
  assert.ok(combos.config, combos.reason);
});

test("targets that do not fit are refused with the reason", () => {
  assert.match(mergeConfigs(config("KSampler", "seed"), config("KSampler", "cfg")).reason, /FLOAT.*is not INT/);
  assert.match(mergeConfigs(config("KSampler", "sampler_name"), config("KSampler", "scheduler")).reason, /choices differ/);
  assert.match(mergeConfigs(config("CLIPTextEncode", "text"), config("SaveImage", "filename_prefix")).reason, /multiline/);
  const low = { ...config("KSampler", "steps"), options: { min: 0, max: 10 } };
  assert.match(mergeConfigs(low, config("EmptyLatentImage", "width")).reason, /do not overlap/);
  const odd = { ...config("KSampler", "steps"), options: { min: 0, max: 100, step: 3 } };
  assert.match(mergeConfigs(odd, config("EmptyLatentImage", "width")).reason, /steps 3 and 8/);
  assert.equal(mergeAll([]).config, null);
  assert.equal(mergeAll([config("KSampler", "seed"), config("KSampler", "cfg")]).config, null);
});

test("widgets_values keep the ComfyUI layout: [value, control] for numbers, + filter for combos", () => {
  const seed = config("KSampler", "seed");
  const sampler = config("KSampler", "sampler_name");
  const text = config("CLIPTextEncode", "text");
  assert.deepEqual(primitiveWidgetNames(seed), ["value", "control_after_generate"]);
  assert.deepEqual(primitiveWidgetNames(sampler), ["value", "control_after_generate", "control_filter_list"]);
  assert.deepEqual(primitiveWidgetNames(text), ["value"]);
  assert.ok(hasPrimitiveControl(config("KSampler", "cfg")));
  assert.deepEqual(primitiveWidgetValues(seed, { value: 5, control: "increment" }), [5, "increment"]);
  assert.deepEqual(primitiveWidgetValues(sampler, { value: "euler" }), ["euler", "fixed", ""]);
  assert.deepEqual(primitiveWidgetValues(text, { value: "hi", control: "increment" }), ["hi"]);
  assert.deepEqual(readPrimitiveValues([5, "increment"]), { value: 5, control: "increment", filter: "" });
  assert.deepEqual(readPrimitiveValues(["euler", "randomize", "/^dpm/"]), { value: "euler", control: "randomize", filter: "/^dpm/" });
  assert.deepEqual(readPrimitiveValues(["hi"]), { value: "hi", control: "fixed", filter: "" });
  assert.equal(readPrimitiveValues(null).value, undefined);
});

test("values are fitted to the config; combo filters match substrings or /regex/", () => {
  const steps = config("KSampler", "steps");
  assert.equal(fitValue(0, steps), 1);
  assert.equal(fitValue(3.6, steps), 4);
  assert.equal(fitValue(0.123, config("KSampler", "cfg")), 0.12);
  const sampler = config("KSampler", "sampler_name");
  assert.equal(fitValue("heun", sampler), "heun");
  assert.equal(fitValue("nope", sampler), sampler.options.values[0]);
  const names = ["euler", "euler_ancestral", "dpm_2", "DPMpp_2m"];
  assert.deepEqual(filterChoices(names, "EULER"), ["euler", "euler_ancestral"]);
  assert.deepEqual(filterChoices(names, "/^dpm/i"), ["dpm_2", "DPMpp_2m"]);
  assert.deepEqual(filterChoices(names, "/(/"), names, "a broken expression filters nothing");
  assert.deepEqual(filterChoices(names, "zzz"), names, "nothing matching filters nothing");
  assert.deepEqual(filterChoices(names, ""), names);
});

test("the search box finds the Primitive, and offers it for widget inputs only", () => {
  const all = { ...defs, PrimitiveNode: PRIMITIVE_SEARCH_DEF };
  assert.equal(searchNodes(all, "primitive")[0].name, "PrimitiveNode");
  assert.ok(searchNodes(all, "", { outputType: "INT" }).some((d) => d.name === "PrimitiveNode"));
  assert.ok(searchNodes(all, "", { outputType: "COMBO" }).some((d) => d.name === "PrimitiveNode"));
  assert.ok(!searchNodes(all, "", { outputType: "MODEL" }).some((d) => d.name === "PrimitiveNode"));
  assert.equal(firstProvidingOutput(PRIMITIVE_SEARCH_DEF, "FLOAT"), 0);
});

test("one primitive feeding two samplers' seeds drives both in the prompt", () => {
  const sampler = (id, link) => ({ id, type: "KSampler", mode: 0,
    inputs: [{ name: "seed", type: "INT", link, widget: { name: "seed" } }], outputs: [],
    widgets_values: [1, "randomize", 20, 8, "euler", "normal", 1] });
  const workflow = {
    nodes: [
      { id: 1, type: "PrimitiveNode", mode: 0, inputs: [],
        outputs: [{ name: "INT", type: "INT", links: [5, 6], widget: { name: "seed" } }],
        widgets_values: primitiveWidgetValues(config("KSampler", "seed"), { value: 99, control: "increment" }) },
      sampler(3, 5), sampler(4, 6),
    ],
    links: [[5, 1, 0, 3, 0, "INT"], [6, 1, 0, 4, 0, "INT"]],
  };
  const prompt = workflowToPrompt(workflow, defs);
  assert.deepEqual(Object.keys(prompt).sort(), ["3", "4"]);
  assert.equal(prompt[3].inputs.seed, 99);
  assert.equal(prompt[4].inputs.seed, 99);
});

test("queue controls move a primitive's value and leave a linked target's widget alone", () => {
  const seed = config("KSampler", "seed");
  const control = { name: "control_after_generate", value: "increment", linkedInput: seed };
  const value = { name: "value", value: 41, linkedWidgets: [control] };
  const targetControl = { name: "control_after_generate", value: "randomize", linkedInput: input("KSampler", "seed") };
  const targetSeed = { name: "seed", value: 7, linkedWidgets: [targetControl] };
  const graph = { _version: 0, _nodes: [
    { widgets: [value, control], inputs: [] },
    { widgets: [targetSeed, targetControl], inputs: [{ name: "seed", type: "INT", link: 5 }] },
  ] };
  applyValueControls(graph);
  assert.equal(value.value, 42);
  assert.equal(targetSeed.value, 7, "a converted, linked seed is driven by its link, not its control");
  control.value = "fixed";
  applyValueControls(graph);
  assert.equal(value.value, 42);
});
