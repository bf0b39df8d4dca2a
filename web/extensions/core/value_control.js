/**
 * Seed and value controls (COMPAT 3.3): after a prompt was queued, every widget followed
 * by a control_after_generate combo moves on (increment, decrement, randomize), so the
 * value sent is the one shown at queue time.
 */
import { nextControlValue } from "../../graph/widget_values.js";

/** Apply each node's control widgets once. */
export function applyValueControls(graph) {
  for (const node of graph._nodes) {
    for (const widget of node.widgets ?? []) {
      const control = widget.linkedWidgets?.find((w) => w.name === "control_after_generate");
      if (!control || control.value === "fixed") continue;
      if (node.getSlotFromWidget?.(widget)?.link != null) continue;
      widget.value = nextControlValue(widget.value, control.value, control.linkedInput);
      widget.callback?.(widget.value);
    }
  }
  graph._version += 1;
}

export const valueControlExtension = {
  name: "core.value_control",
  afterQueued(result, app) {
    applyValueControls(app.graph);
    app.markDirty();
  },
};
