// A workflow before and after the editor's "Convert to Subgraph" (litegraph 0.17.2's own
// serialisation, recorded in fixtures/converted_subgraph.json: the default graph with a
// Primitive on the seed, its two CLIPTextEncode nodes turned into a subgraph).
import { test } from "node:test";
import assert from "node:assert/strict";
import { workflowToPrompt, subgraphDefinitions, SUBGRAPH_INPUT_ID, SUBGRAPH_OUTPUT_ID, readLink } from "../../web/graph/to_prompt.js";
import { loadDefs, loadFixture } from "./helpers.mjs";

const defs = loadDefs();
const { instance, before, after } = loadFixture("converted_subgraph.json");

/** Turn "<instance>:<inner>" ids and links back into "<inner>". */
function unflatten(prompt, prefix) {
  const plain = (v) => (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" ? [v[0].replace(prefix, ""), v[1]] : v);
  return Object.fromEntries(Object.entries(prompt).map(([id, entry]) => [id.replace(prefix, ""),
    { ...entry, inputs: Object.fromEntries(Object.entries(entry.inputs).map(([k, v]) => [k, plain(v)])) }]));
}

test("the converted workflow is schema 0.4 with a schema-1 definition wired through -10/-20", () => {
  assert.equal(after.version, 0.4);
  const [def] = after.definitions.subgraphs;
  assert.equal(def.version, 1);
  assert.ok(after.nodes.some((n) => n.id === instance && n.type === def.id));
  assert.deepEqual(def.nodes.map((n) => n.type), ["CLIPTextEncode", "CLIPTextEncode"]);
  const links = def.links.map(readLink);
  assert.equal(links.filter((l) => l.originId === SUBGRAPH_INPUT_ID).length, 2, "clip feeds both encoders");
  assert.equal(links.filter((l) => l.targetId === SUBGRAPH_OUTPUT_ID).length, 2);
  assert.ok(subgraphDefinitions(after).has(def.id));
});

test("converting to a subgraph changes only the ids of the prompt", () => {
  const flat = workflowToPrompt(after, defs);
  assert.deepEqual(Object.keys(flat).filter((id) => id.includes(":")).sort(), [`${instance}:6`, `${instance}:7`]);
  assert.deepEqual(unflatten(flat, `${instance}:`), workflowToPrompt(before, defs));
  assert.equal(flat[3].inputs.seed, 31337, "the Primitive still drives the seed");
  assert.deepEqual(flat[3].inputs.positive, [`${instance}:6`, 0]);
});
