import { test } from "node:test";
import assert from "node:assert/strict";
import { fitImageNode, imageGrid, MAX_IMAGE_SIDE } from "../../web/graph/image_fit.js";

test("a square image grows a narrow node to its own size", () => {
  assert.deepEqual(fitImageNode([240, 80], 60, [384, 384]), [404, 454]);
});

test("a large image is capped, keeping its aspect", () => {
  const [w, h] = fitImageNode([240, 80], 60, [2048, 1024]);
  assert.equal(w, MAX_IMAGE_SIDE + 20);
  assert.equal(h, 60 + MAX_IMAGE_SIDE / 2 + 10);
});

test("a tall image is capped in height; the node keeps its width", () => {
  assert.deepEqual(fitImageNode([240, 80], 60, [512, 2048]), [240, 60 + 512 + 10]);
});

test("a small image fills the node's width with its aspect", () => {
  assert.deepEqual(fitImageNode([240, 80], 60, [64, 48]), [240, 60 + 165 + 10]);
});

test("the node never shrinks below the size it has", () => {
  assert.deepEqual(fitImageNode([900, 900], 60, [64, 64]), [900, 900]);
});

test("several images are laid out in a near-square grid and fit as a whole", () => {
  assert.deepEqual(imageGrid(1), { cols: 1, rows: 1 });
  assert.deepEqual(imageGrid(3), { cols: 2, rows: 2 });
  assert.deepEqual(imageGrid(5), { cols: 3, rows: 2 });
  assert.deepEqual(fitImageNode([240, 80], 60, [200, 200], 2), [420, 60 + 200 + 10]);
});

test("a zero-sized image is refused with its size", () => {
  assert.throws(() => fitImageNode([240, 80], 60, [0, 10]), /positive, got 0x10/);
});
