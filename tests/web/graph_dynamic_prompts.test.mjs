import { test } from "node:test";
import assert from "node:assert/strict";
import { processDynamicPrompt, stripComments } from "../../web/graph/dynamic_prompts.js";
import { sequence } from "./helpers.mjs";

test("comments are stripped", () => {
  assert.equal(stripComments("a /* b */c // d\ne"), "a c \ne");
});

test("choices pick by the random source, nested ones too", () => {
  assert.equal(processDynamicPrompt("a {red|green|blue} car", sequence(0.5)), "a green car");
  assert.equal(processDynamicPrompt("{x|{y|z}}", sequence(0.9, 0.9)), "z");
  // The inner choice is drawn first, then the outer one.
  assert.equal(processDynamicPrompt("{x|{y|z}}", sequence(0.9, 0.1)), "x");
  assert.equal(processDynamicPrompt("{x|{y|z}}", sequence(0.1, 0.9)), "y");
});

test("escaped braces and bars lose their backslash, other escapes keep it (frontend 1.58.1)", () => {
  assert.equal(processDynamicPrompt("keep \\{a|b\\} here", sequence(0)), "keep {a|b} here");
  assert.equal(processDynamicPrompt("{a\\|b|c} \\(x\\) \\\\", sequence(0)), "a|b \\(x\\) \\\\");
  assert.equal(processDynamicPrompt("plain | text", sequence(0)), "plain | text");
});

test("the end of the text closes a brace left open", () => {
  assert.equal(processDynamicPrompt("a {b|c", sequence(0.9)), "a c");
  assert.equal(processDynamicPrompt("x {y|z} {", sequence(0.5)), "x z ");
});
