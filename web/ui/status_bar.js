/**
 * The bottom bar: connection, queue size, progress of the running node, RAM and VRAM from
 * /system_stats (polled), and short notices.
 */
import { h, formatBytes } from "./dom.js";

const STATS_EVERY_MS = 5000;

function memoryText(stats) {
  if (!stats) return "memory: ?";
  const sys = stats.system ?? {};
  const parts = [`RAM ${formatBytes(sys.ram_total - sys.ram_free)} / ${formatBytes(sys.ram_total)}`];
  const gpu = (stats.devices ?? []).find((d) => d.type !== "cpu");
  if (gpu) parts.push(`VRAM ${formatBytes(gpu.vram_total - gpu.vram_free)} / ${formatBytes(gpu.vram_total)}`);
  return parts.join(" · ");
}

export function mountStatusBar(root, app) {
  const connection = h("span", { id: "status-connection" });
  const queue = h("span", { id: "status-queue" });
  const progress = h("span", { id: "status-progress" });
  const memory = h("span", { id: "status-memory" });
  const notice = h("span", { id: "status-notice" });
  root.append(connection, queue, progress, notice, memory);
  const render = (s) => {
    const ex = s.execution;
    connection.textContent = ex.connected ? "● connected" : "○ disconnected";
    connection.className = ex.connected ? "ok" : "bad";
    queue.textContent = `queue: ${ex.queueRemaining}`;
    const p = ex.progress;
    progress.textContent = ex.runningNode ? `running #${ex.runningNode}${p ? ` ${p.value}/${p.max}` : ""}` : "idle";
    memory.textContent = memoryText(s.systemStats);
    notice.textContent = s.notice?.message ?? "";
  };
  app.store.subscribe(render);
  render(app.store.state);
  const poll = async () => {
    try {
      app.store.update({ systemStats: await app.api.getSystemStats() });
    } catch {
      app.store.update({ systemStats: null });
    }
  };
  poll();
  setInterval(poll, STATS_EVERY_MS);
}
