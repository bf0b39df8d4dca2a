/**
 * Litegraph widgets for the widget slots of a node (see widget_values.js for the layout):
 * numbers that snap to step/round, combos, toggles, single-line text, multiline text as a
 * DOM textarea kept over the canvas, the seed control combo, the upload button and the
 * auto-refresh toggle and refresh button of combos with server-side choices.
 * Extensions add widget types through `app.widgetFactories` (type -> factory).
 */
import { CONTROL_MODES, COMBO_CONTROL_MODES, floatPrecision, normaliseNumber } from "./widget_values.js";

const MULTILINE_HEIGHT = 90;

function numberWidget(node, input, value) {
  const { options } = input;
  const isInt = input.widget === "INT";
  const step = options.step ?? (isInt ? 1 : 0.01);
  const opts = {
    min: options.min, max: options.max, step2: step, step: step * 10,
    precision: isInt ? 0 : floatPrecision(options), round: options.round,
  };
  const widget = node.addWidget("number", input.name, value, (v) => {
    widget.value = normaliseNumber(v, input);
  }, opts);
  return widget;
}

function comboWidget(node, input, value) {
  return node.addWidget("combo", input.name, value, () => {}, { values: input.options.values ?? [] });
}

function toggleWidget(node, input, value) {
  const { label_on: on = "true", label_off: off = "false" } = input.options;
  return node.addWidget("toggle", input.name, Boolean(value), () => {}, { on, off });
}

function textWidget(node, input, value) {
  return node.addWidget("text", input.name, String(value ?? ""), () => {}, {});
}

/**
 * A multiline text widget: a <textarea> positioned over the canvas wherever litegraph
 * draws the widget, hidden by the DomWidgetLayer on frames where it was not drawn.
 */
function multilineWidget(node, input, value, app) {
  const textarea = document.createElement("textarea");
  textarea.className = "comfy-multiline-input";
  textarea.value = String(value ?? "");
  textarea.placeholder = input.options.placeholder ?? input.name;
  textarea.spellcheck = false;
  const widget = {
    type: "customtext",
    name: input.name,
    options: { multiline: true },
    y: 0,
    element: textarea,
    node,
    get value() { return textarea.value; },
    set value(v) { textarea.value = String(v ?? ""); },
    computeSize(width) { return [width ?? node.size[0], MULTILINE_HEIGHT]; },
    draw(ctx, drawnNode, width, y) {
      app.domWidgets.place(widget, drawnNode, [10, y], [width - 20, MULTILINE_HEIGHT - 6]);
    },
    onRemove() { app.domWidgets.remove(widget); },
  };
  textarea.addEventListener("input", () => {
    if (node.graph) node.graph._version += 1;
  });
  app.domWidgets.add(widget);
  node.addCustomWidget(widget);
  return widget;
}

/** Add the control combo that follows a seed-like widget; queueing applies it later. */
export function addControlWidget(node, input, target, mode) {
  const modes = input.widget === "COMBO" ? COMBO_CONTROL_MODES : CONTROL_MODES;
  const widget = node.addWidget("combo", "control_after_generate", mode, () => {}, { values: modes });
  widget.options.serialize = false;
  widget.linkedInput = input;
  target.linkedWidgets = [widget];
  return widget;
}

/**
 * The auto-refresh toggle that follows a combo with server-side choices (`remote`); saved
 * in widgets_values, never sent. extensions/core/remote_combo.js acts on it.
 */
export function addAutoRefreshWidget(node, combo, slot) {
  const widget = node.addWidget("toggle", slot.name, slot.defaultValue, () => {}, {});
  widget.options.serialize = false;
  widget.linkedInput = combo.inputDef;
  combo.autoRefresh = widget;
  return widget;
}

/** The refresh button of a remote combo, named "refresh", "refresh#1", ... per node. */
export function addRefreshButton(node, combo, slot) {
  const count = (node.widgets ?? []).filter((w) => w.refreshesCombo).length;
  const name = count ? `${slot.name}#${count}` : slot.name;
  const widget = node.addWidget("button", name, slot.defaultValue, () => {}, {});
  widget.refreshesCombo = combo;
  widget.linkedInput = combo.inputDef;
  combo.refreshButton = widget;
  return widget;
}

/** Built-in factories, keyed by widget kind; each returns the created widget. */
export const BUILTIN_WIDGET_FACTORIES = Object.freeze({
  INT: numberWidget,
  FLOAT: numberWidget,
  COMBO: comboWidget,
  BOOLEAN: toggleWidget,
  STRING: (node, input, value, app) => (input.options.multiline
    ? multilineWidget(node, input, value, app) : textWidget(node, input, value, app)),
});

/**
 * Keeps DOM widgets (textareas) glued to their spot on the canvas: placed during the
 * node's draw, hidden after any frame in which they were not drawn (off screen, collapsed,
 * node removed).
 */
export class DomWidgetLayer {
  /** @param {HTMLElement} container element over the canvas (position: relative) */
  constructor(container, canvas) {
    this.container = container;
    this.canvas = canvas;
    this.widgets = new Set();
    this.frame = 0;
  }

  add(widget) {
    this.widgets.add(widget);
    widget.element.style.display = "none";
    this.container.appendChild(widget.element);
  }

  remove(widget) {
    this.widgets.delete(widget);
    widget.element.remove();
  }

  /** Position `widget` at node-local `offset` with graph-space `size`. */
  place(widget, node, offset, size) {
    const { ds } = this.canvas;
    const [x, y] = ds.convertOffsetToCanvas([node.pos[0] + offset[0], node.pos[1] + offset[1]]);
    const style = widget.element.style;
    style.display = "";
    style.left = `${x}px`;
    style.top = `${y}px`;
    style.width = `${size[0]}px`;
    style.height = `${size[1]}px`;
    style.transform = `scale(${ds.scale})`;
    widget.drawnFrame = this.frame;
    widget.element.disabled = Boolean(node.getSlotFromWidget?.(widget)?.link != null);
  }

  /** Call once per canvas frame, after nodes were drawn. */
  endFrame() {
    for (const widget of this.widgets) {
      if (widget.drawnFrame !== this.frame) widget.element.style.display = "none";
    }
    this.frame += 1;
  }

  /** Remove every widget whose node left the graph. */
  prune(graph) {
    for (const widget of [...this.widgets]) {
      if (!widget.node || !graph.getNodeById(widget.node.id)) this.remove(widget);
    }
  }
}
