import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync, crc32 } from "node:zlib";
import { isPng, readChunks, readPngText, graphFromPng } from "../../web/graph/png_metadata.js";

const SIG = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "latin1"), Buffer.from(data)]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32 ? crc32(body) : 0);
  return Buffer.concat([len, body, crc]);
}

function png(...chunks) {
  const ihdr = chunk("IHDR", Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]));
  return new Uint8Array(Buffer.concat([SIG, ihdr, ...chunks, chunk("IEND", Buffer.alloc(0))]));
}

const tEXt = (k, v, enc = "latin1") => chunk("tEXt", Buffer.concat([Buffer.from(k, "latin1"), Buffer.from([0]), Buffer.from(v, enc)]));
const iTXt = (k, v, compress) => chunk("iTXt", Buffer.concat([
  Buffer.from(k, "latin1"), Buffer.from([0, compress ? 1 : 0, 0]), Buffer.from("en\0\0"),
  compress ? deflateSync(Buffer.from(v, "utf8")) : Buffer.from(v, "utf8")]));

const WORKFLOW = { last_node_id: 2, nodes: [{ id: 1, type: "EmptyImage" }], links: [], version: 0.4 };
const PROMPT = { 1: { class_type: "EmptyImage", inputs: { width: 8 } } };

test("reads the workflow and prompt tEXt chunks the server writes", async () => {
  const bytes = png(tEXt("prompt", JSON.stringify(PROMPT)), tEXt("workflow", JSON.stringify(WORKFLOW)));
  assert.ok(isPng(bytes));
  assert.deepEqual(readChunks(bytes).map((c) => c.type), ["IHDR", "tEXt", "tEXt", "IEND"]);
  assert.deepEqual(await graphFromPng(bytes), { workflow: WORKFLOW, prompt: PROMPT });
});

test("UTF-8 in tEXt, plain and compressed iTXt all decode", async () => {
  const text = await readPngText(png(tEXt("a", "café ☕", "utf8"), iTXt("b", "naïve ✓", false), iTXt("c", "zipped ✓", true)));
  assert.deepEqual(text, { a: "café ☕", b: "naïve ✓", c: "zipped ✓" });
  assert.deepEqual(await readPngText(png(tEXt("l", "caf\xe9"))), { l: "café" });
});

test("a PNG without a graph gives an empty object", async () => {
  assert.deepEqual(await graphFromPng(png(tEXt("Software", "x"))), {});
});

test("bad files fail with a message saying what is wrong", async () => {
  await assert.rejects(graphFromPng(new Uint8Array([1, 2, 3])), /not a PNG/);
  const bytes = png(tEXt("workflow", "{oops"));
  await assert.rejects(graphFromPng(bytes), /'workflow' text is not valid JSON/);
  const truncated = png(tEXt("prompt", "{}")).subarray(0, 45);
  assert.throws(() => readChunks(truncated), /runs past the end/);
});
