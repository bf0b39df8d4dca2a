import { test } from "node:test";
import assert from "node:assert/strict";
import { pinchUpdate } from "../../web/ui/touch.js";

test("spreading two fingers to twice the distance doubles the scale about their midpoint", () => {
  const r = pinchUpdate([[100, 100], [200, 100]], [[50, 100], [250, 100]], 0.8);
  assert.equal(r.scale, 1.6);
  assert.deepEqual(r.center, [150, 100]);
  assert.deepEqual(r.pan, [0, 0]);
});

test("moving both fingers together pans without zooming", () => {
  const r = pinchUpdate([[0, 0], [100, 0]], [[30, 40], [130, 40]], 1);
  assert.equal(r.scale, 1);
  assert.deepEqual(r.pan, [30, 40]);
});

test("fingers starting on the same point keep the scale", () => {
  assert.equal(pinchUpdate([[5, 5], [5, 5]], [[0, 0], [10, 10]], 1.25).scale, 1.25);
});
