import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzyScore, searchNodes, firstAcceptingInput, firstProvidingOutput } from "../../web/graph/node_search.js";
import { loadDefs } from "./helpers.mjs";

const names = (defs) => defs.map((d) => d.name);

test("exact beats prefix beats substring beats subsequence; misses are null", () => {
  const exact = fuzzyScore("ksampler", "KSampler");
  const prefix = fuzzyScore("ksamp", "KSampler");
  const inner = fuzzyScore("sampler", "KSampler");
  const subsequence = fuzzyScore("ksr", "KSampler");
  assert.ok(exact > prefix && prefix > inner && inner > subsequence && subsequence > 0);
  assert.equal(fuzzyScore("xyz", "KSampler"), null);
  assert.equal(fuzzyScore("", "anything"), 0);
});

test("a class name query finds that node first", () => {
  const defs = loadDefs();
  assert.equal(searchNodes(defs, "emptyimage")[0].name, "EmptyImage");
  assert.equal(searchNodes(defs, "KSampler")[0].name, "KSampler");
  assert.equal(searchNodes(defs, "saveimage")[0].name, "SaveImage");
});

test("fuzzy matches display names and word starts ('ckpt', 'lcs')", () => {
  const defs = loadDefs();
  assert.ok(names(searchNodes(defs, "load ckpt")).includes("CheckpointLoaderSimple"));
  assert.equal(searchNodes(defs, "vae dec")[0].name, "VAEDecode");
});

test("category words narrow the list: every token must match somewhere", () => {
  const defs = loadDefs();
  const hits = searchNodes(defs, "latent upscale");
  assert.equal(hits[0].name, "LatentUpscale");
  for (const def of searchNodes(defs, "conditioning")) {
    assert.ok(/conditioning/i.test(def.category + def.name + def.displayName), def.name);
  }
  assert.deepEqual(searchNodes(defs, "zzzz"), []);
});

test("an empty query lists everything alphabetically and limit caps it", () => {
  const defs = loadDefs();
  const all = searchNodes(defs, "");
  assert.equal(all.length, Object.values(defs).filter((d) => !d.deprecated).length);
  const shown = all.map((d) => d.displayName);
  assert.deepEqual(shown, [...shown].sort((a, b) => a.localeCompare(b)));
  assert.equal(searchNodes(defs, "", { limit: 3 }).length, 3);
});

test("type filters keep nodes that fit a dragged link", () => {
  const defs = loadDefs();
  const takesLatent = searchNodes(defs, "", { inputType: "LATENT" });
  assert.ok(names(takesLatent).includes("VAEDecode"));
  assert.ok(takesLatent.every((d) => d.inputs.some((i) => i.type === "LATENT" || i.type === "*")));
  const givesModel = searchNodes(defs, "", { outputType: "MODEL" });
  assert.ok(names(givesModel).includes("CheckpointLoaderSimple"));
  assert.ok(!names(givesModel).includes("SaveImage"));
});

test("the slot to connect is the first compatible one", () => {
  const defs = loadDefs();
  assert.equal(firstAcceptingInput(defs.KSampler, "CONDITIONING"), 6);
  assert.equal(firstProvidingOutput(defs.CheckpointLoaderSimple, "VAE"), 2);
  assert.equal(firstAcceptingInput(defs.SaveImage, "MODEL"), -1);
});
