// The editor's workflow converter against ComfyUI's own frontend: each file in
// tests/fixtures/frontend is a workflow built in comfyui-frontend-package with the API prompt
// that frontend sent for it (scripts/make_frontend_fixtures.py). Converted with ComfyUI
// 0.8.0's /object_info, our prompt must be the frontend's (the Python converter is held to the
// same files by tests/graph/test_graph_frontend_fixtures.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { workflowToPrompt } from "../../web/graph/to_prompt.js";
import { expandPromptText } from "../../web/graph/text_replacements.js";
import { loadDefs } from "./helpers.mjs";

const folder = new URL("../fixtures/frontend/", import.meta.url);
const files = readdirSync(folder).filter((name) => name.endsWith(".json")).sort();
const defs = loadDefs();

test("there are frontend fixtures to compare with", () => {
  assert.ok(files.length >= 6, files.join(", "));
});

for (const name of files) {
  test(`our prompt is the frontend's: ${name}`, () => {
    const fixture = JSON.parse(readFileSync(new URL(name, folder), "utf8"));
    // The frontend's Math.random was 0.5 while it queued; %date:...% used the page's clock.
    const prompt = workflowToPrompt(fixture.workflow, defs, { random: () => 0.5 });
    assert.deepEqual(expandPromptText(prompt, new Date(fixture.captured_at)), fixture.prompt);
  });
}
