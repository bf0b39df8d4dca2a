/**
 * Subgraphs in the editor, around litegraph's own "Convert to Subgraph" (node context menu,
 * and the canvas menu with several nodes selected): the conversion is one undo step, and
 * a subgraph opened for editing (double-click an instance, or its title button) is left
 * with Escape. The new definition's node type is registered by the app (subgraph-created,
 * graph/node_types.js); to_prompt.js flattens its instances to "<instance>:<inner>" ids.
 */

/** Back to the root graph; also forget the open subgraph so reloads do not reopen it. */
export function closeSubgraph(app) {
  if (app.canvas.graph === app.graph) return false;
  app.canvas.subgraph = undefined;
  app.canvas.setGraph(app.graph);
  app.markDirty();
  return true;
}

function isTextTarget(target) {
  return ["input", "textarea", "select"].includes(target?.localName) || target?.isContentEditable;
}

export const subgraphsExtension = {
  name: "core.subgraphs",
  setup(app) {
    app.graph.events.addEventListener("convert-to-subgraph", () => setTimeout(() => app.checkpoint?.(), 0));
    app.canvasElement.addEventListener("subgraph-opened", (e) => {
      app.notify(`Editing subgraph '${e.detail.subgraph.name}': press Escape to go back`);
    });
    window.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || isTextTarget(e.target) || !closeSubgraph(app)) return;
      e.preventDefault();
    });
  },
};
