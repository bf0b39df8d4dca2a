/**
 * Per-widget "Convert <name> to input" / "Convert input <name> to widget" entries in a
 * node's context menu (graph/widget_conversion.js does the work). Converting back drops a
 * link on the socket, as the widget would otherwise stay disabled. Each change is one undo
 * step; saved files keep converted sockets as plain inputs and reload them converted.
 */
import { conversionEntries, convertToInput, convertToWidget, restoreConversions } from "../../graph/widget_conversion.js";
import { findInput } from "../../graph/node_defs.js";

function applyConversion(app, node, entry) {
  if (entry.toInput) {
    const input = findInput(node.constructor.nodeData, entry.name);
    convertToInput(node, entry.name, input?.type ?? "*");
  } else {
    const slot = convertToWidget(node, entry.name);
    if (slot.link != null) node.disconnectInput(node.inputs.indexOf(slot));
  }
  node._setConcreteSlots?.();
  const size = node.computeSize();
  node.setSize([Math.max(node.size[0], size[0]), size[1]]);
  app.graph._version += 1;
  app.markDirty();
  app.checkpoint?.();
}

export const widgetInputsExtension = {
  name: "core.widget_inputs",
  beforeRegisterNodeDef(NodeClass, def, app) {
    const previous = NodeClass.prototype.getExtraMenuOptions;
    NodeClass.prototype.getExtraMenuOptions = function (canvas, options) {
      const extra = previous?.call(this, canvas, options) ?? [];
      const entries = conversionEntries(this, def).map((entry) => ({
        content: entry.content,
        callback: () => applyConversion(app, this, entry),
      }));
      return [...(Array.isArray(extra) ? extra : []), ...entries];
    };
  },
  loadedGraphNode(node) {
    restoreConversions(node);
  },
};
