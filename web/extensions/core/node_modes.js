/**
 * Bypass (Ctrl+B, mode 4) and mute (Ctrl+M, mode 2) of the selected nodes, toggled
 * together, with a tint over each such node; the prompt conversion already skips them
 * and routes links through bypassed nodes (graph/to_prompt.js).
 */
import { MODE } from "../../graph/to_prompt.js";

const TINT = { [MODE.BYPASS]: "rgba(160, 60, 200, 0.35)", [MODE.NEVER]: "rgba(20, 20, 24, 0.55)" };

/** Give every node in `nodes` `mode`, or ALWAYS when they all have it already. */
export function toggleMode(nodes, mode) {
  const list = [...nodes];
  const target = list.every((n) => n.mode === mode) ? MODE.ALWAYS : mode;
  for (const node of list) node.mode = target;
  return target;
}

function selectedNodes(app) {
  return Object.values(app.canvas.selected_nodes ?? {});
}

export const nodeModesExtension = {
  name: "core.node_modes",
  setup(app) {
    app.toggleSelectedMode = (mode) => {
      const nodes = selectedNodes(app);
      if (!nodes.length) return;
      toggleMode(nodes, mode);
      app.graph._version += 1;
      app.markDirty();
    };
    window.addEventListener("keydown", (e) => {
      if (!(e.ctrlKey || e.metaKey) || ["input", "textarea"].includes(e.target?.localName)) return;
      const key = e.key.toLowerCase();
      if (key === "b") app.toggleSelectedMode(MODE.BYPASS);
      else if (key === "m") app.toggleSelectedMode(MODE.NEVER);
      else return;
      e.preventDefault();
    });
  },
  drawForeground(ctx, app) {
    const title = app.lib.LiteGraph.NODE_TITLE_HEIGHT;
    for (const node of app.graph._nodes) {
      const tint = TINT[node.mode];
      if (!tint) continue;
      ctx.fillStyle = tint;
      const h = node.flags?.collapsed ? 0 : node.size[1];
      ctx.fillRect(node.pos[0], node.pos[1] - title, node.flags?.collapsed ? node._collapsed_width ?? 80 : node.size[0], h + title);
    }
  },
};
