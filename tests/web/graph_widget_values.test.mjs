import { test } from "node:test";
import assert from "node:assert/strict";
import {
  floatPrecision, inputsToWidgetValues, nextControlValue, normaliseNumber, widgetLayout, widgetValuesToInputs,
} from "../../web/graph/widget_values.js";
import { normaliseNodeDef } from "../../web/graph/node_defs.js";
import { loadDefs, sequence } from "./helpers.mjs";

const defs = loadDefs();
const input = (def, name) => def.inputs.find((i) => i.name === name);

test("KSampler layout interleaves the seed control (COMPAT 3.3)", () => {
  assert.deepEqual(widgetLayout(defs.KSampler).map((s) => s.name),
    ["seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"]);
  assert.deepEqual(inputsToWidgetValues(defs.KSampler, { seed: 5 }),
    [5, "randomize", 20, 8, "euler", "simple", 1]);
});

test("KSamplerAdvanced noise_seed gets a control; LoadImage gets the upload entry", () => {
  assert.deepEqual(inputsToWidgetValues(defs.KSamplerAdvanced, { noise_seed: 7 }, { noise_seed: "fixed" }),
    ["enable", 7, "fixed", 20, 8, "euler", "simple", 0, 10000, "disable"]);
  assert.deepEqual(inputsToWidgetValues(defs.LoadImage, {}), ["example.png", "image"]);
});

test("an INT named seed gets a control even without the flag; a flagged combo too", () => {
  const def = normaliseNodeDef("N", { input: { required: {
    seed: ["INT", {}], pick: [["a", "b"], { control_after_generate: "fixed" }], n: ["INT", {}] } }, output: [] });
  assert.deepEqual(widgetLayout(def).map((s) => `${s.name}:${s.defaultValue}`),
    ["seed:0", "control_after_generate:randomize", "pick:a", "control_after_generate:fixed", "n:0"]);
});

test("widgets_values map back to inputs and controls, skipping extra entries", () => {
  const mapped = widgetValuesToInputs(defs.KSampler, [42, "increment", 30, 6.5, "heun", "karras", 0.5]);
  assert.deepEqual(mapped.values, { seed: 42, steps: 30, cfg: 6.5, sampler_name: "heun", scheduler: "karras", denoise: 0.5 });
  assert.deepEqual(mapped.controls, { seed: "increment" });
  assert.deepEqual(widgetValuesToInputs(defs.LoadImage, ["photo.jpg", "image"]).values, { image: "photo.jpg" });
});

test("legacy widgets_values with forceInput entries are detected by count and stripped", () => {
  const def = normaliseNodeDef("N", { input: { required: {
    a: ["INT", { forceInput: true }], b: ["FLOAT", {}] } }, output: [] });
  assert.deepEqual(widgetValuesToInputs(def, [3, 1.5]).values, { b: 1.5 });
  assert.deepEqual(widgetValuesToInputs(def, [1.5]).values, { b: 1.5 });
});

test("object-shaped widgets_values map by name; absent names keep their defaults", () => {
  assert.deepEqual(widgetValuesToInputs(defs.EmptyLatentImage, { width: 640, height: 448, bogus: 1 }).values,
    { width: 640, height: 448, batch_size: 1 });
});

test("INT snaps to its step and clamps; FLOAT rounds to round then step", () => {
  const width = input(defs.EmptyLatentImage, "width");
  assert.equal(normaliseNumber(517, width), 520);
  assert.equal(normaliseNumber(3, width), 16);
  assert.equal(normaliseNumber(99999, width), 16384);
  assert.equal(normaliseNumber("abc", width), 512);
  const cfg = input(defs.KSampler, "cfg");
  assert.equal(normaliseNumber(7.123456, cfg), 7.12);
  assert.equal(normaliseNumber(-1, cfg), 0);
  const denoise = input(defs.KSampler, "denoise");
  assert.equal(normaliseNumber(0.3333, denoise), 0.33);
  assert.equal(floatPrecision(cfg.options), 2);
  assert.equal(floatPrecision({ step: 0.001 }), 3);
  const free = { widget: "FLOAT", type: "FLOAT", options: { round: false, step: 0.1 } };
  assert.equal(normaliseNumber(0.123456, free), 0.123456);
});

test("seed controls: fixed, increment, decrement at bounds, randomize on the grid below 2^50", () => {
  const seed = input(defs.KSampler, "seed");
  assert.equal(nextControlValue(10, "fixed", seed), 10);
  assert.equal(nextControlValue(10, "increment", seed), 11);
  assert.equal(nextControlValue(0, "decrement", seed), 0);
  assert.equal(nextControlValue(5, "randomize", seed, sequence(0)), 0);
  const high = nextControlValue(5, "randomize", seed, sequence(0.999999999));
  assert.ok(high <= 2 ** 50 && high > 2 ** 49);
  const width = input(defs.EmptyLatentImage, "width");
  assert.equal(nextControlValue(512, "increment", width), 520);
  const r = nextControlValue(512, "randomize", width, sequence(0.5));
  assert.equal((r - 16) % 8, 0);
});

test("combo controls step through choices; increment-wrap wraps", () => {
  const sched = input(defs.KSampler, "scheduler");
  assert.equal(nextControlValue("simple", "increment", sched), "sgm_uniform");
  assert.equal(nextControlValue("kl_optimal", "increment", sched), "kl_optimal");
  assert.equal(nextControlValue("kl_optimal", "increment-wrap", sched), "simple");
  assert.equal(nextControlValue("simple", "decrement", sched), "simple");
  assert.equal(nextControlValue("simple", "randomize", sched, sequence(0.99)), "kl_optimal");
});
