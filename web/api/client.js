/**
 * The editor's only door to the server: HTTP calls under /api (COMPAT 1.2) and the /ws
 * websocket, whose JSON and binary frames become typed CustomEvents (COMPAT 2.3, 2.5).
 * Fetch, WebSocket and timers are injected, so the client runs under node in tests.
 *
 * Events (all CustomEvent, payload in `detail`):
 *   status {exec_info:{queue_remaining}} | null, execution_start, execution_cached,
 *   executing, progress, progress_state, executed, execution_success, execution_error,
 *   execution_interrupted, feature_flags (the server's data payload, verbatim);
 *   b_preview {blob, imageType, meta|null} for binary previews (types 1 and 4);
 *   progress_text {nodeId, text} (type 3); reconnecting {attempt}; reconnected;
 *   frame_error {error} when a binary frame cannot be decoded; and any other JSON `type`
 *   a plugin's server side sends, dispatched under its own name.
 */
import { decodeFrame, FRAME } from "./frames.js";

/** Flags this client announces in its first websocket message (COMPAT 2.4). */
export const CLIENT_FEATURE_FLAGS = Object.freeze({ supports_preview_metadata: true });
const CLIENT_ID_KEY = "comfy.clientId";

/** A POST /prompt refused by validation; `response` holds {error, node_errors}. */
export class PromptError extends Error {
  constructor(response, status) {
    super(response?.error?.message ?? `prompt refused with HTTP ${status}`);
    this.name = "PromptError";
    this.response = response;
    this.status = status;
  }
}

export class ApiClient extends EventTarget {
  /**
   * @param {{baseUrl?: string, fetch?: Function, WebSocket?: Function, storage?: Storage,
   *          wsUrl?: string, setTimeout?: Function, maxBackoffMs?: number}} [opts]
   */
  constructor(opts = {}) {
    super();
    this.baseUrl = opts.baseUrl ?? "";
    this._fetch = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this._storage = opts.storage ?? null;
    this._wsUrl = opts.wsUrl ?? null;
    this._setTimeout = opts.setTimeout ?? ((...a) => globalThis.setTimeout(...a));
    this._maxBackoffMs = opts.maxBackoffMs ?? 10000;
    this.clientId = this._storage?.getItem(CLIENT_ID_KEY) ?? null;
    this.serverFeatures = {};
    this._socket = null;
    this._closed = false;
    this._attempt = 0;
  }

  /** URL of an API route (`/prompt` -> `/api/prompt`). */
  apiURL(path) {
    return `${this.baseUrl}/api${path}`;
  }

  /** URL of a static file served from the web root. */
  fileURL(path) {
    return `${this.baseUrl}${path}`;
  }

  /** URL of an output/input/temp image for an `{filename, subfolder, type}` record. */
  viewURL(image, opts = {}) {
    const params = new URLSearchParams({
      filename: image.filename, subfolder: image.subfolder ?? "", type: image.type ?? "output",
    });
    if (opts.preview) params.set("preview", opts.preview);
    if (opts.bust) params.set("rand", String(opts.bust));
    return this.apiURL(`/view?${params}`);
  }

  async fetchApi(path, init = {}) {
    return this._fetch(this.apiURL(path), init);
  }

  async _json(path, init) {
    const res = await this.fetchApi(path, init);
    if (!res.ok) throw await httpError(`${init?.method ?? "GET"} ${path}`, res);
    return res.json();
  }

  async _post(path, body) {
    const res = await this.fetchApi(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}),
    });
    if (!res.ok) throw await httpError(`POST ${path}`, res);
    return res;
  }

  getObjectInfo() { return this._json("/object_info"); }

  /** The JSON list a combo's `remote.route` answers (a server path such as /internal/files/output). */
  async getRemoteList(route) {
    const res = await this._fetch(this.fileURL(route));
    if (!res.ok) throw await httpError(`GET ${route}`, res);
    return res.json();
  }
  getSystemStats() { return this._json("/system_stats"); }
  getExtensions() { return this._json("/extensions"); }
  getEmbeddings() { return this._json("/embeddings"); }

  /** Pending and running queue items, each `[number, prompt_id, prompt, extra_data, outputs]`. */
  async getQueue() {
    const data = await this._json("/queue");
    return { running: data.queue_running ?? [], pending: data.queue_pending ?? [] };
  }

  /** The newest `maxItems` history records, `{prompt_id: record}` oldest first. */
  getHistory(maxItems = 64) { return this._json(`/history?max_items=${maxItems}`); }

  /**
   * POST /prompt; resolves to {prompt_id, number, node_errors}.
   * @throws {PromptError} when the server refuses the prompt (validation errors)
   */
  async queuePrompt(body) {
    const res = await this.fetchApi("/prompt", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) throw new PromptError(data, res.status);
    return data;
  }

  interrupt(promptId) { return this._post("/interrupt", promptId ? { prompt_id: promptId } : {}); }
  deleteQueueItem(promptId) { return this._post("/queue", { delete: [promptId] }); }
  clearQueue() { return this._post("/queue", { clear: true }); }
  deleteHistoryItem(promptId) { return this._post("/history", { delete: [promptId] }); }
  clearHistory() { return this._post("/history", { clear: true }); }

  /** Upload an image file; resolves to {name, subfolder, type}. */
  async uploadImage(file, opts = {}) {
    const form = new FormData();
    form.append("image", file, file.name);
    form.append("type", opts.type ?? "input");
    if (opts.subfolder) form.append("subfolder", opts.subfolder);
    if (opts.overwrite) form.append("overwrite", "true");
    return this._json("/upload/image", { method: "POST", body: form });
  }

  /** File names under the user's `dir` (GET /userdata?dir=); [] when the folder does not exist. */
  async listUserData(dir) {
    const res = await this.fetchApi(`/userdata?dir=${encodeURIComponent(dir)}`);
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`listing user data in ${dir} failed with HTTP ${res.status}`);
    return res.json();
  }

  /** The JSON content of the user file `path` ("workflows/a.json"). */
  getUserData(path) { return this._json(`/userdata/${encodeURIComponent(path)}`); }

  /** Write `data` as JSON to the user file `path`, replacing it unless overwrite is false. */
  async storeUserData(path, data, { overwrite = true } = {}) {
    const res = await this.fetchApi(`/userdata/${encodeURIComponent(path)}?overwrite=${overwrite}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
    });
    if (!res.ok) throw new Error(`saving ${path} failed with HTTP ${res.status}`);
  }

  async deleteUserData(path) {
    const res = await this.fetchApi(`/userdata/${encodeURIComponent(path)}`, { method: "DELETE" });
    if (!res.ok) throw new Error(`deleting ${path} failed with HTTP ${res.status}`);
  }

  /** A user setting (GET /settings/<id>, shared with ComfyUI's frontend); null when unset. */
  getSetting(id) { return this._json(`/settings/${encodeURIComponent(id)}`); }

  /** Store a user setting (POST /settings/<id> with the JSON value). */
  async storeSetting(id, value) { await this._post(`/settings/${encodeURIComponent(id)}`, value); }

  _socketUrl() {
    if (this._wsUrl) return this._wsUrl;
    const loc = globalThis.location;
    const scheme = loc?.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${loc?.host}${this.baseUrl}/ws`;
  }

  /** Open the websocket (and keep reopening it with backoff until close()). */
  connect() {
    this._closed = false;
    const query = this.clientId ? `?clientId=${encodeURIComponent(this.clientId)}` : "";
    const socket = new this._WebSocket(this._socketUrl() + query);
    socket.binaryType = "arraybuffer";
    this._socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "feature_flags", data: CLIENT_FEATURE_FLAGS }));
      if (this._attempt > 0) this._emit("reconnected", null);
      this._attempt = 0;
    });
    socket.addEventListener("message", (event) => this.handleMessage(event.data));
    socket.addEventListener("close", () => this._scheduleReconnect(socket));
    return socket;
  }

  _scheduleReconnect(socket) {
    if (this._closed || socket !== this._socket) return;
    this._attempt += 1;
    this._emit("reconnecting", { attempt: this._attempt });
    const delay = Math.min(500 * 2 ** (this._attempt - 1), this._maxBackoffMs);
    this._setTimeout(() => { if (!this._closed) this.connect(); }, delay);
  }

  /** Stop reconnecting and close the socket. */
  close() {
    this._closed = true;
    this._socket?.close();
    this._socket = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Decode one websocket message (string or ArrayBuffer) into events. */
  handleMessage(data) {
    if (typeof data !== "string") {
      this._handleBinary(data);
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "status") {
      if (message.data?.sid) {
        this.clientId = message.data.sid;
        this._storage?.setItem(CLIENT_ID_KEY, this.clientId);
      }
      this._emit("status", message.data?.status ?? null);
      return;
    }
    if (message.type === "feature_flags") this.serverFeatures = message.data ?? {};
    this._emit(message.type, message.data ?? null);
  }

  _handleBinary(buffer) {
    let frame;
    try {
      frame = decodeFrame(buffer);
    } catch (error) {
      this._emit("frame_error", { error });
      return;
    }
    if (frame.event === FRAME.TEXT) {
      this._emit("progress_text", { nodeId: frame.nodeId, text: frame.text });
      return;
    }
    const blob = new Blob([frame.image], { type: frame.imageType });
    this._emit("b_preview", { blob, imageType: frame.imageType, meta: frame.meta ?? null });
  }
}

/** An Error for a failed request, with the server's `{"error": {message, details}}` when it sent one. */
async function httpError(what, res) {
  let reason = "";
  try {
    const { error } = await res.json();
    reason = [error?.message, error?.details].filter(Boolean).join(": ");
  } catch {
    // not a JSON body: the status says all we know
  }
  return new Error(`${what} failed with HTTP ${res.status}${reason ? `: ${reason}` : ""}`);
}
