/**
 * The queue and history side panel: running and pending prompts with cancel buttons,
 * recent history with status and thumbnails (click to load that workflow back).
 * Refreshed on every status broadcast (COMPAT 2.2) and when a prompt finishes.
 */
import { h } from "./dom.js";
import { latestAnswer } from "../api/latest_answer.js";

const HISTORY_ITEMS = 20;

function queueRow(item, label, onCancel) {
  const [number, promptId] = item;
  return h("li", { class: "queue-item", "data-prompt-id": promptId },
    h("span", { class: "tag" }, label), h("span", { class: "id" }, `#${number} ${promptId.slice(0, 8)}`),
    h("button", { class: "small", title: "Cancel", onclick: onCancel }, "✕"));
}

function firstImage(record) {
  for (const output of Object.values(record.outputs ?? {})) {
    if (Array.isArray(output?.images) && output.images.length) return output.images[0];
  }
  return null;
}

function historyRow(app, promptId, record) {
  const status = record.status?.status_str ?? "?";
  const image = firstImage(record);
  const workflow = record.prompt?.[3]?.extra_pnginfo?.workflow;
  return h("li", { class: `history-item ${status}`, title: "Click to load this workflow",
    onclick: () => workflow && app.openWorkflow(workflow, { name: `job ${promptId.slice(0, 8)}` }) },
  image ? h("img", { src: app.api.viewURL(image, { preview: "webp;50" }), alt: "" }) : null,
  h("span", { class: "tag" }, status), h("span", { class: "id" }, promptId.slice(0, 8)));
}

export function mountQueuePanel(root, app) {
  const running = h("ul", { id: "queue-running" });
  const pending = h("ul", { id: "queue-pending" });
  const history = h("ul", { id: "history-list" });
  root.append(
    h("h3", {}, "Queue"), running, pending,
    h("div", { class: "row" }, h("button", { class: "small", onclick: async () => { await app.api.clearQueue(); refresh(); } }, "Clear queue")),
    h("h3", {}, "History"), history,
    h("div", { class: "row" }, h("button", { class: "small", onclick: async () => { await app.api.clearHistory(); refresh(); } }, "Clear history")),
  );
  const render = (s) => {
    running.replaceChildren(...s.queue.running.map((item) => queueRow(item, "running", () => app.api.interrupt(item[1]))));
    const sorted = [...s.queue.pending].sort((a, b) => a[0] - b[0]);
    pending.replaceChildren(...sorted.map((item) => queueRow(item, "pending", async () => { await app.api.deleteQueueItem(item[1]); refresh(); })));
    const entries = Object.entries(s.history).reverse();
    history.replaceChildren(...entries.map(([id, record]) => historyRow(app, id, record)));
  };
  let last = null;
  app.store.subscribe((s) => {
    if (s.queue !== last?.queue || s.history !== last?.history) render(s);
    last = s;
  });
  // Every status and executing message reloads both; the last one started wins.
  const reload = latestAnswer(() => Promise.all([app.api.getQueue(), app.api.getHistory(HISTORY_ITEMS)]),
    ([queue, historyData]) => app.store.update({ queue, history: historyData }));
  async function refresh() {
    try {
      await reload();
    } catch (error) {
      app.notify(`Could not read the queue: ${error.message}`);
    }
  }
  for (const type of ["status", "executing", "execution_error", "execution_interrupted"]) {
    app.api.addEventListener(type, refresh);
  }
  // The socket came back: read the queue again and forget a run that ended meanwhile.
  app.api.addEventListener("reconnected", async () => {
    await refresh();
    if (!app.store.state.queue.running.length) {
      app.store.update((s) => ({ ...s, execution: { ...s.execution, runningNode: null, progress: null } }));
    }
  });
  refresh();
}
