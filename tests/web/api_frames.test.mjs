import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, FRAME } from "../../web/api/frames.js";

function bytes(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out.buffer;
}
const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, false); return b; };
const utf8 = (s) => new TextEncoder().encode(s);

test("type 1: big-endian event, format 2 = PNG, the rest is the image", () => {
  const frame = decodeFrame(bytes(u32(1), u32(2), new Uint8Array([137, 80, 78, 71])));
  assert.equal(frame.event, FRAME.PREVIEW_IMAGE);
  assert.equal(frame.imageType, "image/png");
  assert.deepEqual([...frame.image], [137, 80, 78, 71]);
  assert.equal(decodeFrame(bytes(u32(1), u32(1), new Uint8Array([255, 216]))).imageType, "image/jpeg");
});

test("type 3: node id length, node id, utf-8 text", () => {
  const frame = decodeFrame(bytes(u32(3), u32(2), utf8("12"), utf8("step 3/4 – ok")));
  assert.deepEqual(frame, { event: 3, nodeId: "12", text: "step 3/4 – ok" });
});

test("type 4: json metadata then image, image_type from the metadata", () => {
  const meta = { node_id: "3", prompt_id: "p", display_node_id: "3", parent_node_id: null, real_node_id: "3", image_type: "image/png" };
  const json = utf8(JSON.stringify(meta));
  const frame = decodeFrame(bytes(u32(4), u32(json.length), json, new Uint8Array([1, 2, 3])));
  assert.equal(frame.imageType, "image/png");
  assert.deepEqual(frame.meta, meta);
  assert.deepEqual([...frame.image], [1, 2, 3]);
});

test("encodeFrame is the inverse of decodeFrame", () => {
  for (const f of [
    { event: 1, imageType: "image/jpeg", image: new Uint8Array([9, 9]) },
    { event: 3, nodeId: "7", text: "hello" },
    { event: 4, imageType: "image/jpeg", image: new Uint8Array([5]), meta: { node_id: "1", image_type: "image/jpeg" } },
  ]) {
    const back = decodeFrame(encodeFrame(f));
    assert.deepEqual({ ...back, image: back.image && [...back.image] }, { ...f, image: f.image && [...f.image] });
  }
});

test("truncated or unknown frames raise errors that say why", () => {
  assert.throws(() => decodeFrame(new Uint8Array([0, 0]).buffer), /too short for the event type/);
  assert.throws(() => decodeFrame(bytes(u32(2), u32(1))), /unknown binary frame event 2/);
  assert.throws(() => decodeFrame(bytes(u32(1), u32(9))), /unknown preview image format 9/);
  assert.throws(() => decodeFrame(bytes(u32(3), u32(10), utf8("1"))), /shorter than its node id/);
});
