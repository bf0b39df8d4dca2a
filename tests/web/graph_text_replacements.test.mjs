import { test } from "node:test";
import assert from "node:assert/strict";
import { applyTextReplacements, expandPromptText, formatDate } from "../../web/graph/text_replacements.js";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { defaultWorkflow } from "../../web/graph/default_workflow.js";
import { loadDefs } from "./helpers.mjs";

const NOW = new Date(2024, 2, 5, 7, 8, 9); // 2024-03-05 07:08:09 local time

test("date formats pad doubled tokens", () => {
  assert.equal(formatDate("yyyy-MM-dd", NOW), "2024-03-05");
  assert.equal(formatDate("yy/M/d hh:mm:ss", NOW), "24/3/5 07:08:09");
  assert.equal(formatDate("h.m.s", NOW), "7.8.9");
});

test("%Title.widget% reads the titled node's value; unknown references stay", () => {
  const prompt = {
    3: { class_type: "KSampler", inputs: { seed: 42, model: ["4", 0] }, _meta: { title: "Sampler" } },
    4: { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "sd/v1.safetensors" }, _meta: { title: "Load Checkpoint" } },
  };
  assert.equal(applyTextReplacements("run_%Sampler.seed%_%date:yyyy%", prompt, NOW), "run_42_2024");
  assert.equal(applyTextReplacements("%KSampler.seed%", prompt, NOW), "42");
  assert.equal(applyTextReplacements("%Load Checkpoint.ckpt_name%", prompt, NOW), "sd_v1.safetensors");
  assert.equal(applyTextReplacements("%Sampler.model%-%Nope.x%-%width%", prompt, NOW), "%Sampler.model%-%Nope.x%-%width%");
});

test("queueing expands filename_prefix of the default workflow", () => {
  const defs = loadDefs();
  const wf = defaultWorkflow(defs);
  wf.nodes.find((n) => n.type === "SaveImage").widgets_values = ["%date:yyyy-MM-dd%/%KSampler.steps%steps"];
  const prompt = expandPromptText(workflowToPrompt(wf, defs), NOW);
  assert.equal(prompt[9].inputs.filename_prefix, "2024-03-05/20steps");
});
