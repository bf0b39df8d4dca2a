// Combos with server-side choices (`remote`: LoadImageOutput) in the editor's pure modules,
// against ComfyUI 0.8.0's /object_info and what ComfyUI's frontend saved and sent for such a
// node (tests/fixtures/frontend/remote_combo.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { remoteChoices, valueAfterFetch } from "../../web/graph/remote_combo.js";
import { inputsToWidgetValues, widgetLayout, widgetValuesToInputs } from "../../web/graph/widget_values.js";
import { normaliseNodeDef } from "../../web/graph/node_defs.js";
import { imageRecord } from "../../web/extensions/core/image_upload.js";
import { loadDefs } from "./helpers.mjs";

const defs = loadDefs();
const frontend = JSON.parse(readFileSync(new URL("../fixtures/frontend/remote_combo.json", import.meta.url), "utf8"));

test("a remote combo is followed by the auto-refresh toggle and the refresh button", () => {
  assert.deepEqual(widgetLayout(defs.LoadImageOutput).map((s) => [s.name, s.kind, s.defaultValue]), [
    ["image", "input", ""], ["Auto-refresh after generation", "autorefresh", false],
    ["refresh", "refresh", "refresh"], ["upload", "upload", "image"]]);
  const saved = frontend.workflow.nodes.find((n) => n.type === "LoadImageOutput").widgets_values;
  // the frontend sends the button's value with the inputs
  assert.deepEqual(widgetValuesToInputs(defs.LoadImageOutput, saved).values, { image: "example.png [output]", refresh: "refresh" });
  assert.deepEqual(inputsToWidgetValues(defs.LoadImageOutput, { image: "example.png [output]", refresh: "refresh" }), saved);
});

test("repeated refresh buttons are named as litegraph names repeated widgets", () => {
  const remote = (route) => ["COMBO", { remote: { route, refresh_button: true } }];
  const def = normaliseNodeDef("Two", { input: { required: { a: remote("/a"), b: remote("/b") } }, output: [] });
  assert.deepEqual(widgetLayout(def).map((s) => s.name),
    ["a", "Auto-refresh after generation", "refresh", "b", "Auto-refresh after generation", "refresh#1"]);
  assert.deepEqual(Object.keys(widgetValuesToInputs(def, ["x", false, "refresh", "y", false, "refresh"]).values),
    ["a", "refresh", "b", "refresh#1"]);
});

test("a route's answer gives its strings as the choices", () => {
  assert.deepEqual(remoteChoices(["b.png [output]", "a.png [output]"]), ["b.png [output]", "a.png [output]"]);
  assert.deepEqual(remoteChoices(["m1", 3, null, "m2"]), ["m1", "m2"]);
  assert.deepEqual(remoteChoices({ error: "nope" }), []);
});

test("a fresh combo takes the first choice, a saved one keeps its value until a refresh picks", () => {
  const choices = ["new.png [output]", "old.png [output]"];
  assert.equal(valueAfterFetch("", choices), "new.png [output]");
  assert.equal(valueAfterFetch("gone.png [output]", choices), "gone.png [output]");
  assert.equal(valueAfterFetch("old.png [output]", choices, { refreshed: true, mode: "first" }), "new.png [output]");
  assert.equal(valueAfterFetch("new.png [output]", choices, { refreshed: true, mode: "last" }), "old.png [output]");
  assert.equal(valueAfterFetch("old.png [output]", choices, { refreshed: true }), "old.png [output]");
  assert.equal(valueAfterFetch("", [], { refreshed: true, mode: "first" }), "");
});

test("an annotated value is shown from its own folder", () => {
  assert.deepEqual(imageRecord("example.png [output]", "output"), { filename: "example.png", subfolder: "", type: "output" });
  assert.deepEqual(imageRecord("sub/up.png [input]", "output"), { filename: "up.png", subfolder: "sub", type: "input" });
  assert.deepEqual(imageRecord("plain.png"), { filename: "plain.png", subfolder: "", type: "input" });
});
