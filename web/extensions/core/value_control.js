/**
 * Seed and value controls (COMPAT 3.3): after a prompt was queued, every widget followed
 * by a control_after_generate combo moves on (increment, decrement, randomize), so the
 * value sent is the one shown at queue time.
 */
import { nextControlValue } from "../../graph/widget_values.js";

/** Whether the input of `widget` (its widget slot or the socket it was converted to) is linked. */
function inputLinked(node, widget) {
  return (node.inputs ?? []).some((slot) => (slot.widget?.name ?? slot.name) === widget.name && slot.link != null);
}

/** Apply each node's control widgets once; a linked input's widget is left alone (the link wins). */
export function applyValueControls(graph) {
  for (const node of graph._nodes) {
    for (const widget of node.widgets ?? []) {
      const control = widget.linkedWidgets?.find((w) => w.name === "control_after_generate");
      if (!control || control.value === "fixed") continue;
      if (inputLinked(node, widget)) continue;
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
