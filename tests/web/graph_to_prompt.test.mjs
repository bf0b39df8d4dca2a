import { test } from "node:test";
import assert from "node:assert/strict";
import { buildPromptRequest, promotedInputs, workflowToPrompt } from "../../web/graph/to_prompt.js";
import { defaultPrompt, defaultWorkflow } from "../../web/graph/default_workflow.js";
import { normaliseObjectInfo } from "../../web/graph/node_defs.js";
import { loadDefs, loadFixture, loadObjectInfo, sequence } from "./helpers.mjs";

const defs = loadDefs();

/** A tiny workflow builder: nodes [{id, type, mode?, inputs, outputs, widgets_values}] + links. */
function wf(nodes, links) {
  return { last_node_id: 99, last_link_id: links.length, nodes, links, groups: [], config: {}, extra: {}, version: 0.4 };
}
const slot = (name, type, link = null, widget = false) => (widget ? { name, type, link, widget: { name } } : { name, type, link });

test("the default workflow converts to the canonical txt2img prompt (COMPAT 3.1)", () => {
  // ComfyUI's /object_info as a server with one checkpoint file lists it.
  const info = loadObjectInfo();
  info.CheckpointLoaderSimple.input.required.ckpt_name[0] = ["tiny_sd1.safetensors"];
  const withFile = normaliseObjectInfo(info);
  const prompt = workflowToPrompt(defaultWorkflow(withFile), withFile);
  const expected = defaultPrompt("tiny_sd1.safetensors");
  assert.deepEqual(Object.keys(prompt).sort(), Object.keys(expected).sort());
  for (const [id, entry] of Object.entries(expected)) {
    assert.equal(prompt[id].class_type, entry.class_type);
    assert.deepEqual(prompt[id].inputs, entry.inputs, `inputs of node ${id}`);
  }
  assert.equal(prompt[6]._meta.title, "Positive prompt");
  assert.equal(prompt[3]._meta.title, "KSampler");
});

test("control and upload widgets never reach the prompt", () => {
  const w = wf([{ id: 1, type: "LoadImage", mode: 0, inputs: [], outputs: [], widgets_values: ["photo.jpg", "image"] },
    { id: 2, type: "KSampler", mode: 0, inputs: [], outputs: [], widgets_values: [9, "randomize", 4, 7, "euler", "karras", 1] }], []);
  const p = workflowToPrompt(w, defs);
  assert.deepEqual(p[1].inputs, { image: "photo.jpg" });
  assert.deepEqual(p[2].inputs, { seed: 9, steps: 4, cfg: 7, sampler_name: "euler", scheduler: "karras", denoise: 1 });
});

test("links become [string id, slot]; a linked widget input wins over its value", () => {
  const w = wf([
    { id: 1, type: "EmptyImage", mode: 0, inputs: [], outputs: [{ name: "IMAGE", type: "IMAGE", links: [] }], widgets_values: [64, 64, 1, 0] },
    { id: 2, type: "ImageScale", mode: 0, outputs: [],
      inputs: [slot("image", "IMAGE", 1), slot("width", "INT", 2, true)], widgets_values: ["bilinear", 128, 96, "disabled"] },
    { id: 3, type: "KSampler", mode: 0, inputs: [], outputs: [], widgets_values: [1, "fixed", 2, 3, "euler", "normal", 1] },
  ], [[1, 1, 0, 2, 0, "IMAGE"], [2, 3, 0, 2, 1, "INT"]]);
  const p = workflowToPrompt(w, defs);
  assert.deepEqual(p[2].inputs, { upscale_method: "bilinear", width: ["3", 0], height: 96, crop: "disabled", image: ["1", 0] });
});

test("muted nodes are left out and links to them deleted; bypassed nodes are rewired by type", () => {
  const base = defaultWorkflow(defs);
  const muted = structuredClone(base);
  muted.nodes.find((n) => n.id === 8).mode = 2;
  const pm = workflowToPrompt(muted, defs);
  assert.ok(!("8" in pm));
  assert.ok(!("images" in pm[9].inputs));
  // Insert ImageInvert between VAEDecode and SaveImage, then bypass it.
  const w = wf([
    { id: 1, type: "EmptyImage", mode: 0, inputs: [], outputs: [{ name: "IMAGE", type: "IMAGE", links: [1] }], widgets_values: [64, 64, 1, 0] },
    { id: 2, type: "ImageInvert", mode: 4, inputs: [slot("image", "IMAGE", 1)], outputs: [{ name: "IMAGE", type: "IMAGE", links: [2] }], widgets_values: [] },
    { id: 3, type: "SaveImage", mode: 0, inputs: [slot("images", "IMAGE", 2)], outputs: [], widgets_values: ["x"] },
  ], [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]]);
  const p = workflowToPrompt(w, defs);
  assert.deepEqual(Object.keys(p), ["1", "3"]);
  assert.deepEqual(p[3].inputs.images, ["1", 0]);
});

test("bypass picks the same slot if compatible, else the first input of the same type", () => {
  // LoraLoader(model, clip) bypassed: output 1 (CLIP) must come from input 1 (clip).
  const ckpt = { id: 1, type: "CheckpointLoaderSimple", mode: 0, inputs: [], outputs: [], widgets_values: ["tiny_sd1.safetensors"] };
  const lora = { id: 2, type: "LoraLoader", mode: 4, inputs: [slot("model", "MODEL", 1), slot("clip", "CLIP", 2)], outputs: [], widgets_values: ["tiny_lora.safetensors", 1, 1] };
  const enc = { id: 3, type: "CLIPTextEncode", mode: 0, inputs: [slot("clip", "CLIP", 3)], outputs: [], widgets_values: ["hi"] };
  const links = [[1, 1, 0, 2, 0, "MODEL"], [2, 1, 1, 2, 1, "CLIP"], [3, 2, 1, 3, 0, "CLIP"]];
  assert.deepEqual(workflowToPrompt(wf([ckpt, lora, enc], links), defs)[3].inputs.clip, ["1", 1]);
  // CLIPSetLastLayer has one input (clip) at slot 0: an output-0 CLIP link passes through it.
  const last = { id: 2, type: "CLIPSetLastLayer", mode: 4, inputs: [slot("clip", "CLIP", 2)], outputs: [], widgets_values: [-2] };
  const links2 = [[2, 1, 1, 2, 0, "CLIP"], [3, 2, 0, 3, 0, "CLIP"]];
  assert.deepEqual(workflowToPrompt(wf([ckpt, last, enc], links2), defs)[3].inputs.clip, ["1", 1]);
  // No compatible input: the link is dropped.
  const inv = { id: 2, type: "ImageInvert", mode: 4, inputs: [slot("image", "IMAGE", null)], outputs: [], widgets_values: [] };
  const save = { id: 3, type: "SaveImage", mode: 0, inputs: [slot("images", "IMAGE", 3)], outputs: [], widgets_values: ["x"] };
  assert.deepEqual(workflowToPrompt(wf([inv, save], [[3, 2, 0, 3, 0, "IMAGE"]]), defs)[3].inputs, { filename_prefix: "x" });
});

test("Reroute chains pass through; PrimitiveNode values replace the widget", () => {
  const w = wf([
    { id: 1, type: "EmptyImage", mode: 0, inputs: [], outputs: [], widgets_values: [64, 64, 1, 0] },
    { id: 5, type: "Reroute", mode: 0, inputs: [slot("", "*", 1)], outputs: [] },
    { id: 6, type: "Reroute", mode: 0, inputs: [slot("", "*", 2)], outputs: [] },
    { id: 7, type: "PrimitiveNode", mode: 0, inputs: [], outputs: [], widgets_values: [777, "fixed"] },
    { id: 8, type: "Note", mode: 0, inputs: [], outputs: [], widgets_values: ["just text"] },
    { id: 3, type: "ImageScale", mode: 0, inputs: [slot("image", "IMAGE", 3), slot("width", "INT", 4, true)], outputs: [],
      widgets_values: ["area", 1, 32, "center"] },
  ], [[1, 1, 0, 5, 0, "IMAGE"], [2, 5, 0, 6, 0, "IMAGE"], [3, 6, 0, 3, 0, "IMAGE"], [4, 7, 0, 3, 1, "INT"]]);
  const p = workflowToPrompt(w, defs);
  assert.deepEqual(Object.keys(p).sort(), ["1", "3"]);
  assert.deepEqual(p[3].inputs.image, ["1", 0]);
  assert.equal(p[3].inputs.width, 777);
});

test("dynamic prompts resolve in dynamicPrompts STRING widgets only; arrays are wrapped", () => {
  const w = wf([
    { id: 1, type: "CLIPTextEncode", mode: 0, inputs: [], outputs: [], widgets_values: ["a {cat|dog} // note"] },
    { id: 2, type: "SaveImage", mode: 0, inputs: [], outputs: [], widgets_values: ["{keep|this}"] },
    { id: 3, type: "EmptyLatentImage", mode: 0, inputs: [], outputs: [], widgets_values: [[1, 2], 512, 1] },
  ], []);
  const p = workflowToPrompt(w, defs, { random: sequence(0.7) });
  assert.equal(p[1].inputs.text, "a dog ");
  assert.equal(p[2].inputs.filename_prefix, "{keep|this}");
  assert.deepEqual(p[3].inputs.width, { __value__: [1, 2] });
});

test("unknown node types keep their links; schema-1 object links work", () => {
  const w = wf([
    { id: 1, type: "EmptyImage", mode: 0, inputs: [], outputs: [], widgets_values: [64, 64, 1, 0] },
    { id: 2, type: "SomePluginNode", mode: 0, inputs: [slot("pixels", "IMAGE", 1)], outputs: [], widgets_values: [3] },
  ], [{ id: 1, origin_id: 1, origin_slot: 0, target_id: 2, target_slot: 0, type: "IMAGE" }]);
  assert.deepEqual(workflowToPrompt(w, defs)[2], { inputs: { pixels: ["1", 0] }, class_type: "SomePluginNode", _meta: { title: "SomePluginNode" } });
});

test("output targets keep only the chosen outputs and their ancestors", () => {
  const w = defaultWorkflow(defs);
  w.nodes.push({ id: 20, type: "EmptyImage", mode: 0, inputs: [], outputs: [], widgets_values: [8, 8, 1, 0] });
  const p = workflowToPrompt(w, defs, { outputTargets: ["9"] });
  assert.deepEqual(Object.keys(p).sort(), ["3", "4", "5", "6", "7", "8", "9"]);
});

test("the POST /prompt body carries client id, prompt and workflow (COMPAT 3.4)", () => {
  const body = buildPromptRequest({ clientId: "abc", prompt: { 1: {} }, workflow: { nodes: [] }, targets: [9] });
  assert.deepEqual(body, { client_id: "abc", prompt: { 1: {} }, extra_data: { extra_pnginfo: { workflow: { nodes: [] } } },
    partial_execution_targets: ["9"] });
  assert.equal(buildPromptRequest({ clientId: "a", prompt: {}, workflow: {}, front: true }).front, true);
});

test("subgraph instances flatten to '<instance>:<inner>' ids through the IO nodes (shared fixture)", () => {
  const workflow = loadFixture("subgraph_workflow.json");
  const prompt = workflowToPrompt(workflow, defs, { random: () => 0.7 });
  // The same expectation is checked against comfy_core/graph/workflow_convert.py.
  assert.deepEqual(prompt, loadFixture("subgraph_prompt.json"));
  assert.deepEqual(promotedInputs(workflow.definitions.subgraphs[0]), [1]);
});

test("an unlinked promoted input without a value keeps the inner widget; muted instances vanish", () => {
  const workflow = loadFixture("subgraph_workflow.json");
  workflow.nodes.find((n) => n.id === 10).widgets_values = [];
  assert.equal(workflowToPrompt(workflow, defs, { random: () => 0 })["10:1"].inputs.text, "replaced by the promoted widget");
  workflow.nodes.find((n) => n.id === 12).mode = 2;
  const prompt = workflowToPrompt(workflow, defs);
  assert.ok(!Object.keys(prompt).some((id) => id.startsWith("12:")));
});

test("a subgraph containing itself is refused with its name", () => {
  const workflow = loadFixture("subgraph_workflow.json");
  const inner = workflow.definitions.subgraphs[1].definitions.subgraphs[0];
  inner.nodes.push({ id: 9, type: workflow.definitions.subgraphs[1].id, mode: 0, inputs: [], outputs: [] });
  assert.throws(() => workflowToPrompt(workflow, defs), /nests deeper than 32 levels/);
});

test("a preview method other than 'default' goes into extra_data, as ComfyUI's frontend sends it", () => {
  const base = { clientId: "a", prompt: {}, workflow: {} };
  assert.equal(buildPromptRequest({ ...base, previewMethod: "auto" }).extra_data.preview_method, "auto");
  for (const previewMethod of ["default", undefined, null, ""]) {
    assert.equal("preview_method" in buildPromptRequest({ ...base, previewMethod }).extra_data, false);
  }
});
