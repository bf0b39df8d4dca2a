import { test } from "node:test";
import assert from "node:assert/strict";
import { expandGroupNodes } from "../../web/graph/group_nodes.js";
import { buildGroupLayout } from "../../web/graph/group_layout.js";
import { widgetLayout, widgetValuesToInputs } from "../../web/graph/widget_values.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { loadDefs, loadFixture } from "./helpers.mjs";

const defs = loadDefs();
const defOf = (type) => defs[type] ?? null;

test("a legacy group-node workflow converts to ComfyUI's execution ids (shared fixture)", () => {
  const workflow = loadFixture("group_node_workflow.json");
  assert.deepEqual(workflowToPrompt(workflow, defs), loadFixture("group_node_prompt.json"));
});

test("the group layout names, prefixes and control entries match the Python side", () => {
  const groups = loadFixture("group_node_workflow.json").extra.groupNodes;
  const prompts = buildGroupLayout("Prompts", groups.Prompts, defOf);
  assert.deepEqual(prompts.def.inputs.map((i) => i.name), ["text", "clip", "Negative text", "Negative clip"]);
  const sampler = buildGroupLayout("Sample and decode", groups["Sample and decode"], defOf);
  assert.deepEqual(sampler.def.inputs.map((i) => i.name), ["Steps value", "seed", "cfg", "sampler_name", "scheduler",
    "denoise", "model", "positive", "negative", "latent_image", "vae"]);
  assert.equal(sampler.def.inputs[0].options.max, defs.KSampler.inputs.find((i) => i.name === "steps").options.max);
  assert.deepEqual(widgetLayout(sampler.def).map((s) => (s.kind === "input" ? s.name : null)),
    ["Steps value", null, "seed", null, "cfg", "sampler_name", "scheduler", "denoise"]);
  assert.deepEqual(sampler.outputs, [[2, 0]]);
});

test("instance widget values override inner ones; a linked group widget and the old prefix work", () => {
  const workflow = loadFixture("group_node_workflow.json");
  const sampler = workflow.nodes.find((n) => n.type === "workflow>Sample and decode");
  sampler.widgets_values = [5, "fixed", 7];
  const prompts = workflow.nodes.find((n) => n.type === "workflow>Prompts");
  prompts.type = "workflow/Prompts";
  prompts.inputs.push({ name: "Negative text", type: "STRING", link: 13, widget: { name: "Negative text" } });
  workflow.nodes.push({ id: 30, type: "PrimitiveStringMultiline", mode: 0, inputs: [], widgets_values: ["x"],
    outputs: [{ name: "STRING", type: "STRING", links: [13] }] });
  workflow.links.push([13, 30, 0, 10, 2, "STRING"]);
  const prompt = workflowToPrompt(workflow, defs);
  assert.equal(prompt["20:1"].inputs.steps, 5);
  assert.equal(prompt["20:1"].inputs.seed, 7);
  assert.equal(prompt["20:1"].inputs.cfg, 8);
  assert.deepEqual(prompt["10:1"].inputs.text, ["30", 0]);
});

test("expansion makes one subgraph per instance and leaves the input untouched", () => {
  const workflow = loadFixture("group_node_workflow.json");
  const before = structuredClone(workflow);
  const expanded = expandGroupNodes(workflow, defs);
  assert.deepEqual(workflow, before);
  assert.equal(expanded.extra.groupNodes, undefined);
  const ids = expanded.definitions.subgraphs.map((d) => d.id);
  assert.deepEqual(expanded.definitions.subgraphs.map((d) => d.name), ["Prompts", "Sample and decode"]);
  assert.deepEqual(expanded.nodes.filter((n) => ids.includes(n.type)).map((n) => [n.id, n.title]), [[10, "Prompts"], [20, "Sample and decode"]]);
  const plain = { nodes: [{ id: 1, type: "EmptyImage", widgets_values: [8, 8, 1, 0] }] };
  assert.equal(expandGroupNodes(plain, defs), plain);
});

test("an unknown inner type or a group containing itself is named", () => {
  const workflow = loadFixture("group_node_workflow.json");
  const inner = workflow.extra.groupNodes.Prompts.nodes[1];
  inner.type = "NotInstalled";
  assert.throws(() => expandGroupNodes(workflow, defs), /group node 'Prompts': inner node 1 has unknown type 'NotInstalled'/);
  inner.type = "workflow>Prompts";
  assert.throws(() => expandGroupNodes(workflow, defs), /contains itself/);
});

test("widgets missing from an old file take their defaults (VAEEncodeForInpaint grow_mask_by)", () => {
  assert.deepEqual(widgetValuesToInputs(defs.VAEEncodeForInpaint, []).values, { grow_mask_by: 6 });
  assert.deepEqual(widgetValuesToInputs(defs.KSampler, [5, "fixed", 3]).values,
    { seed: 5, steps: 3, cfg: 8, sampler_name: "euler", scheduler: "simple", denoise: 1 });
  const prompt = workflowToPrompt({ nodes: [{ id: 1, type: "LatentUpscale", mode: 0 }], links: [] }, defs);
  assert.deepEqual(prompt[1].inputs, { upscale_method: "nearest-exact", width: 512, height: 512, crop: "disabled" });
});

test("a reroute inside a group: internal ones add nothing, one used outside becomes a typed output", () => {
  const workflow = loadFixture("group_node_workflow.json");
  const group = workflow.extra.groupNodes["Sample and decode"];
  group.nodes.push({ type: "Reroute", index: 3, inputs: [{ name: "", type: "*", link: null }],
    outputs: [{ name: "", type: "LATENT", links: [] }] });
  group.links.push([1, 0, 3, 0, 32, "LATENT"]);
  group.external.push([3, 0, "LATENT"]);
  const layout = buildGroupLayout("Sample and decode", group, defOf);
  assert.deepEqual(layout.outputs, [[2, 0], [3, 0]]);
  assert.deepEqual(layout.def.outputs.map((o) => o.type), ["IMAGE", "LATENT"]);
  const instance = workflow.nodes.find((n) => n.type === "workflow>Sample and decode");
  instance.outputs.push({ name: "LATENT", type: "LATENT", links: [14] });
  workflow.nodes.push({ id: 31, type: "VAEDecode", mode: 0, outputs: [],
    inputs: [{ name: "samples", type: "LATENT", link: 14 }, { name: "vae", type: "VAE", link: 15 }] });
  workflow.links.push([14, 20, 1, 31, 0, "LATENT"], [15, 4, 2, 31, 1, "VAE"]);
  const prompt = workflowToPrompt(workflow, defs);
  assert.deepEqual(prompt[31].inputs, { samples: ["20:1", 0], vae: ["4", 2] });
  assert.equal(prompt["20:3"], undefined);
});
