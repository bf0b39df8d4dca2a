import { test } from "node:test";
import assert from "node:assert/strict";
import { initialTabs, activeTab, addTab, switchTab, closeTab, updateActive, workflowPath, workflowName } from "../../web/state/workflow_tabs.js";

const wf = (tag) => ({ nodes: [], links: [], tag });

test("each tab keeps its own graph across switches", () => {
  let s = initialTabs(wf("a0"));
  s = addTab(s, wf("a1"), { name: "b", workflow: wf("b0") });
  assert.equal(activeTab(s).name, "b");
  assert.equal(s.tabs[0].workflow.tag, "a1");
  s = switchTab(s, wf("b1"), 1);
  assert.equal(activeTab(s).workflow.tag, "a1");
  assert.equal(s.tabs[1].workflow.tag, "b1");
  assert.equal(switchTab(s, wf("x"), 1), s);
  assert.throws(() => switchTab(s, wf("x"), 9), /no open workflow tab with id 9/);
});

test("closing the active tab activates a neighbour; the last leaves a fresh tab", () => {
  let s = initialTabs(wf("a"));
  s = addTab(s, wf("a"), { name: "b", workflow: wf("b") });
  s = addTab(s, wf("b"), { name: "c", workflow: wf("c") });
  s = switchTab(s, wf("c"), 2);
  s = closeTab(s, wf("b"), 2, wf("empty"));
  assert.deepEqual(s.tabs.map((t) => t.name), ["Unsaved workflow", "c"]);
  assert.equal(activeTab(s).name, "c");
  s = closeTab(s, wf("c"), 1, wf("empty"));
  assert.equal(activeTab(s).name, "c");
  s = closeTab(s, wf("c"), 3, wf("empty"));
  assert.equal(s.tabs.length, 1);
  assert.equal(activeTab(s).workflow.tag, "empty");
  assert.ok(s.tabs[0].id >= 4, "ids are never reused");
});

test("saving names a tab and gives it a userdata path", () => {
  const s = updateActive(initialTabs(wf("a")), { name: "portrait", path: workflowPath("portrait") });
  assert.deepEqual([activeTab(s).name, activeTab(s).path], ["portrait", "workflows/portrait.json"]);
});

test("workflow names become safe userdata paths", () => {
  assert.equal(workflowPath(" my flow.json "), "workflows/my flow.json");
  assert.equal(workflowName("workflows/my flow.json"), "my flow");
  for (const bad of ["", "a/b", "..x", ".hidden", "c:d"]) assert.throws(() => workflowPath(bad), /name/);
});
