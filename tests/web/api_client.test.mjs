import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiClient, PromptError } from "../../web/api/client.js";
import { encodeFrame } from "../../web/api/frames.js";

class FakeSocket extends EventTarget {
  static made = [];
  constructor(url) { super(); this.url = url; this.sent = []; FakeSocket.made.push(this); }
  send(data) { this.sent.push(data); }
  close() { this.dispatchEvent(new Event("close")); }
}

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
}

function collect(client, ...types) {
  const seen = [];
  for (const t of types) client.addEventListener(t, (e) => seen.push([t, e.detail]));
  return seen;
}

test("status adopts the sid as client id and stores it; events carry the data payload", () => {
  const storage = new MemoryStorage();
  const client = new ApiClient({ storage });
  const seen = collect(client, "status", "executing", "progress", "my_plugin_event");
  client.handleMessage(JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: 2 } }, sid: "s1" } }));
  client.handleMessage(JSON.stringify({ type: "executing", data: { node: "3", display_node: "3", prompt_id: "p" } }));
  client.handleMessage(JSON.stringify({ type: "progress", data: { value: 1, max: 4, prompt_id: "p", node: "3" } }));
  client.handleMessage(JSON.stringify({ type: "my_plugin_event", data: { x: 1 } }));
  assert.equal(client.clientId, "s1");
  assert.equal(storage.getItem("comfy.clientId"), "s1");
  assert.deepEqual(seen, [
    ["status", { exec_info: { queue_remaining: 2 } }],
    ["executing", { node: "3", display_node: "3", prompt_id: "p" }],
    ["progress", { value: 1, max: 4, prompt_id: "p", node: "3" }],
    ["my_plugin_event", { x: 1 }],
  ]);
});

test("binary frames become b_preview blobs and progress_text; bad frames frame_error", async () => {
  const client = new ApiClient();
  const seen = collect(client, "b_preview", "progress_text", "frame_error");
  client.handleMessage(encodeFrame({ event: 1, imageType: "image/png", image: new Uint8Array([1, 2]) }));
  client.handleMessage(encodeFrame({ event: 4, imageType: "image/jpeg", image: new Uint8Array([3]), meta: { node_id: "5", image_type: "image/jpeg" } }));
  client.handleMessage(encodeFrame({ event: 3, nodeId: "5", text: "50%" }));
  client.handleMessage(new Uint8Array([0, 0, 0, 9]).buffer);
  assert.deepEqual(seen.map(([t]) => t), ["b_preview", "b_preview", "progress_text", "frame_error"]);
  assert.equal(seen[0][1].blob.type, "image/png");
  assert.deepEqual([...new Uint8Array(await seen[0][1].blob.arrayBuffer())], [1, 2]);
  assert.equal(seen[0][1].meta, null);
  assert.equal(seen[1][1].meta.node_id, "5");
  assert.deepEqual(seen[2][1], { nodeId: "5", text: "50%" });
});

test("connect sends feature flags first, reuses the client id and reconnects with backoff", () => {
  FakeSocket.made = [];
  const timers = [];
  const client = new ApiClient({ WebSocket: FakeSocket, wsUrl: "ws://h/ws", setTimeout: (fn, ms) => timers.push([fn, ms]) });
  client.clientId = "c1";
  const seen = collect(client, "reconnecting", "reconnected");
  const s1 = client.connect();
  assert.equal(s1.url, "ws://h/ws?clientId=c1");
  s1.dispatchEvent(new Event("open"));
  assert.deepEqual(JSON.parse(s1.sent[0]), { type: "feature_flags", data: { supports_preview_metadata: true } });
  s1.dispatchEvent(new Event("close"));
  assert.deepEqual(seen, [["reconnecting", { attempt: 1 }]]);
  assert.equal(timers[0][1], 500);
  timers[0][0]();
  FakeSocket.made[1].dispatchEvent(new Event("open"));
  assert.deepEqual(seen.at(-1), ["reconnected", null]);
  client.close();
  assert.equal(timers.length, 1, "no reconnect after close()");
});

test("HTTP calls go under /api; a refused prompt raises PromptError with node_errors", async () => {
  const calls = [];
  const refusal = { error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation" }, node_errors: { 3: {} } };
  const fetch = async (url, init) => {
    calls.push([url, init?.method ?? "GET", init?.body]);
    if (url.endsWith("/prompt")) return new Response(JSON.stringify(refusal), { status: 400 });
    if (url.endsWith("/queue") && !init?.method) return Response.json({ queue_running: [[1, "a"]], queue_pending: [] });
    return new Response("", { status: 200 });
  };
  const client = new ApiClient({ fetch, baseUrl: "" });
  const q = await client.getQueue();
  assert.deepEqual(q, { running: [[1, "a"]], pending: [] });
  await assert.rejects(client.queuePrompt({ prompt: {} }), (e) => e instanceof PromptError && e.response.node_errors[3] && e.status === 400);
  await client.deleteQueueItem("p1");
  await client.interrupt();
  assert.deepEqual(calls.map((c) => c.slice(0, 2)), [["/api/queue", "GET"], ["/api/prompt", "POST"], ["/api/queue", "POST"], ["/api/interrupt", "POST"]]);
  assert.deepEqual(JSON.parse(calls[2][2]), { delete: ["p1"] });
  assert.equal(client.viewURL({ filename: "a b.png", subfolder: "", type: "temp" }), "/api/view?filename=a+b.png&subfolder=&type=temp");
});

test("a failing GET names the route and status", async () => {
  const client = new ApiClient({ fetch: async () => new Response("", { status: 500 }) });
  await assert.rejects(client.getObjectInfo(), /GET \/object_info failed with HTTP 500/);
});

test("a failed request's error carries the server's JSON error message and details", async () => {
  const body = { error: { type: "startup_failed", message: "the server failed to load its nodes", details: "RuntimeError: boom" } };
  const fetch = async (url) => (url.endsWith("/object_info")
    ? new Response(JSON.stringify(body), { status: 503, headers: { "Content-Type": "application/json" } })
    : new Response("<html>bad gateway</html>", { status: 502 }));
  const client = new ApiClient({ storage: new MemoryStorage(), fetch });
  await assert.rejects(client.getObjectInfo(),
    { message: "GET /object_info failed with HTTP 503: the server failed to load its nodes: RuntimeError: boom" });
  await assert.rejects(client.clearQueue(), { message: "POST /queue failed with HTTP 502" });
});

test("settings are read and written under /api/settings/<id>; a missing one reads as null", async () => {
  const calls = [];
  const stored = new Map([["Comfy.Execution.PreviewMethod", "latent2rgb"]]);
  const fetch = async (url, init) => {
    calls.push([url, init?.method ?? "GET", init?.body]);
    const id = decodeURIComponent(url.split("/settings/")[1]);
    if (init?.method === "POST") { stored.set(id, JSON.parse(init.body)); return new Response(""); }
    return Response.json(stored.has(id) ? stored.get(id) : null);
  };
  const client = new ApiClient({ fetch });
  assert.equal(await client.getSetting("Comfy.Execution.PreviewMethod"), "latent2rgb");
  assert.equal(await client.getSetting("Comfy.Nope"), null);
  await client.storeSetting("Comfy.Execution.PreviewMethod", "none");
  assert.equal(stored.get("Comfy.Execution.PreviewMethod"), "none");
  assert.deepEqual(calls[2].slice(0, 2), ["/api/settings/Comfy.Execution.PreviewMethod", "POST"]);
});
