/**
 * "Convert widget to input" and back, on plain node objects (`inputs`, `widgets`) so it is
 * unit-tested without a canvas. A converted widget is hidden and its widget slot becomes
 * an ordinary input socket of the same name (no `widget` field), drawn with the other
 * inputs; the hidden widget keeps its value and its place in widgets_values (COMPAT 3.3),
 * and a link to the socket wins at queue time (graph/to_prompt.js reads the slot name).
 * Slots keep their index, so links stay valid both ways.
 */
import { findInput } from "./node_defs.js";

/** Widgets that are not values of an input: the seed control and the upload button. */
const EXTRA_WIDGET_NAMES = new Set(["control_after_generate", "control_filter_list"]);

function isValueWidget(widget, def) {
  if (widget.type === "button" || EXTRA_WIDGET_NAMES.has(widget.name)) return false;
  return !def || Boolean(findInput(def, widget.name)?.widget);
}

/** The input slot index of widget `name`: its widget slot, or its converted plain socket. */
function slotIndex(node, name) {
  return (node.inputs ?? []).findIndex((slot) => (slot.widget?.name ?? slot.name) === name);
}

/** Whether widget `name` of `node` is shown as a plain input socket. */
export function isConverted(node, name) {
  const slot = node.inputs?.[slotIndex(node, name)];
  return Boolean(slot && !slot.widget && node.widgets?.some((w) => w.name === name));
}

/**
 * The context-menu entries for `node`: one per value widget, converting whichever way it
 * is not yet. `def` (the NodeDef) limits them to widgets backed by an input.
 * @returns {{content: string, name: string, toInput: boolean}[]}
 */
export function conversionEntries(node, def = null) {
  return (node.widgets ?? []).filter((w) => isValueWidget(w, def)).map((widget) => {
    const toInput = !isConverted(node, widget.name);
    const content = toInput ? `Convert ${widget.name} to input` : `Convert input ${widget.name} to widget`;
    return { content, name: widget.name, toInput };
  });
}

/**
 * Hide widget `name` and turn its slot into a plain socket (kept at its index; a link on
 * it stays). A widget without a slot (files keep only linked ones) gets one appended.
 * @returns {object} the socket
 * @throws {Error} naming the widget when the node has no such value widget
 */
export function convertToInput(node, name, type) {
  const widget = node.widgets?.find((w) => w.name === name);
  if (!widget) throw new Error(`node ${node.id} has no widget '${name}' to convert to an input`);
  let index = slotIndex(node, name);
  if (index < 0) {
    node.inputs = node.inputs ?? [];
    node.inputs.push({ name, type, link: null });
    index = node.inputs.length - 1;
  }
  const slot = node.inputs[index];
  delete slot.widget;
  delete slot.pos;
  hideWidget(widget);
  return slot;
}

/** Hide `widget` and let it take no height (litegraph still lays hidden widgets out). */
export function hideWidget(widget) {
  if (widget.hidden) return;
  widget.hidden = true;
  widget.shownComputeSize = Object.hasOwn(widget, "computeSize") ? widget.computeSize : null;
  widget.computeSize = () => [0, -4];
}

function showWidget(widget) {
  widget.hidden = false;
  if (widget.shownComputeSize) widget.computeSize = widget.shownComputeSize;
  else delete widget.computeSize;
  delete widget.shownComputeSize;
}

/**
 * Show widget `name` again and make its socket the widget's slot once more. A link on the
 * socket is kept (it still wins, drawing the widget disabled); the caller may remove it.
 * @throws {Error} naming the widget when it is not converted
 */
export function convertToWidget(node, name) {
  if (!isConverted(node, name)) throw new Error(`widget '${name}' of node ${node.id} is not converted to an input`);
  showWidget(node.widgets.find((w) => w.name === name));
  const slot = node.inputs[slotIndex(node, name)];
  slot.widget = { name };
  return slot;
}

/** Re-hide the widgets of a loaded node whose saved slots are converted sockets. */
export function restoreConversions(node) {
  for (const widget of node.widgets ?? []) {
    if (isValueWidget(widget, null) && isConverted(node, widget.name)) hideWidget(widget);
  }
}
