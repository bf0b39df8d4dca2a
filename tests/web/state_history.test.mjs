import { test } from "node:test";
import assert from "node:assert/strict";
import { startHistory, record, replacePresent, undo, redo, canUndo, canRedo } from "../../web/state/history.js";

test("undo and redo walk back and forth over recorded states", () => {
  let h = startHistory("a");
  h = record(record(h, "b"), "c");
  assert.equal(h.present, "c");
  h = undo(h);
  assert.equal(h.present, "b");
  h = undo(h);
  assert.equal(h.present, "a");
  assert.equal(canUndo(h), false);
  assert.equal(undo(h), h);
  h = redo(redo(h));
  assert.equal(h.present, "c");
  assert.equal(canRedo(h), false);
  assert.equal(redo(h), h);
});

test("a new edit after an undo drops the redo list", () => {
  let h = record(record(startHistory("a"), "b"), "c");
  h = record(undo(h), "d");
  assert.deepEqual([h.past, h.present, h.future], [["a", "b"], "d", []]);
});

test("recording the present again changes nothing", () => {
  const h = record(startHistory("a"), "b");
  assert.equal(record(h, "b"), h);
});

test("the limit keeps only the newest past states, also on redo", () => {
  let h = startHistory("0", 3);
  for (const s of ["1", "2", "3", "4", "5"]) h = record(h, s);
  assert.deepEqual(h.past, ["2", "3", "4"]);
  h = redo(undo(h));
  assert.deepEqual(h.past, ["2", "3", "4"]);
  assert.throws(() => startHistory("x", 0), /at least 1/);
});

test("replacePresent keeps both directions", () => {
  let h = undo(record(record(startHistory("a"), "b"), "c"));
  h = replacePresent(h, "b'");
  assert.deepEqual([h.past, h.present, h.future], [["a"], "b'", ["c"]]);
  assert.equal(redo(h).present, "c");
  assert.equal(undo(h).present, "a");
});

test("histories are never mutated", () => {
  const h = Object.freeze(record(startHistory("a"), "b"));
  Object.freeze(h.past);
  Object.freeze(h.future);
  assert.doesNotThrow(() => redo(undo(record(h, "c"))));
});
