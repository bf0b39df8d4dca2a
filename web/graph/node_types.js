/**
 * Litegraph node classes built from NodeDefs: sockets for typed inputs, a widget plus a
 * widget-input slot (so a link can replace the widget) for widget inputs, the seed control
 * and upload entries of COMPAT 3.3, outputs with tooltips, and the category, display name
 * and description from /object_info. ComfyUI's V3 dynamic inputs as its frontend shows them:
 * a dynamic combo's chosen option adds its widgets right after the combo (and its sockets),
 * growing lists and type-following groups follow their links (graph/dynamic_inputs.js).
 * Behaviour beyond building stays in extensions.
 */
import { dynamicChoice, inputWidgetSlots } from "./widget_values.js";
import { addAutoRefreshWidget, addControlWidget, addRefreshButton } from "./canvas_widgets.js";
import { autogrowInputs, findInput } from "./node_defs.js";
import { autogrowChanges, autogrowCount, hasDynamicSlots, matchTypeChanges } from "./dynamic_inputs.js";

const MIN_WIDTH = 240;
/** Title button of a subgraph instance that opens it for editing. */
const OPEN_GLYPH = "\u2197";

function addUploadWidget(node, input, app) {
  const combo = node.widgets.find((w) => w.name === input.name);
  const widget = node.addWidget("button", "upload", "image", () => app.pickAndUpload(node, combo), {});
  widget.label = "choose file to upload";
  return widget;
}

function addWidgetInput(node, input, slot, app) {
  const factory = app.widgetFactories[input.widget];
  if (!factory) throw new Error(`no widget factory for type ${input.widget} (input ${input.name})`);
  const widget = factory(node, input, slot.defaultValue, app);
  widget.tooltip = input.tooltip;
  widget.inputDef = input;
  node.addInput(input.name, input.type, { widget: { name: input.name }, tooltip: input.tooltip });
  return widget;
}

/** Add the sockets and widgets of one input (a dynamic combo's chosen option's too). */
function addDefInput(node, input, app) {
  if (input.options.autogrow) {
    for (const socket of autogrowInputs(input, autogrowCount(input, -1))) addSubSocket(node, socket, input);
    return;
  }
  if (!input.widget) {
    node.addInput(input.name, input.type, { tooltip: input.tooltip });
    return;
  }
  let widget = null;
  for (const slot of inputWidgetSlots(input)) {
    if (slot.kind === "input") widget = addWidgetInput(node, input, slot, app);
    else if (slot.kind === "control") addControlWidget(node, input, widget, slot.defaultValue);
    else if (slot.kind === "autorefresh") addAutoRefreshWidget(node, widget, slot);
    else if (slot.kind === "refresh") addRefreshButton(node, widget, slot);
    else if (slot.kind === "upload") addUploadWidget(node, input, app);
  }
  if (!input.options.choices) return;
  const previous = widget.callback;
  widget.callback = function (...args) {
    previous?.apply(this, args);
    showDynamicChoice(node, input, app);
    fitNode(node);
  };
  showDynamicChoice(node, input, app);
}

/** A socket that input `owner` adds, labelled without the owner's name (as ComfyUI's frontend). */
function addSubSocket(node, socket, owner) {
  node.addInput(socket.name, socket.type, { tooltip: socket.tooltip, label: socket.name.slice(owner.name.length + 1) });
}

/** Replace the widgets and sockets of dynamic combo `input` with those of its current option. */
function showDynamicChoice(node, input, app) {
  const prefix = `${input.name}.`;
  const owned = (name) => typeof name === "string" && name.startsWith(prefix);
  for (const widget of [...(node.widgets ?? [])]) {
    if (!owned((widget.inputDef ?? widget.linkedInput)?.name)) continue;
    widget.onRemove?.();
    node.removeWidget(widget);
  }
  for (let i = (node.inputs?.length ?? 0) - 1; i >= 0; i--) {
    if (owned(node.inputs[i].widget?.name ?? node.inputs[i].name)) node.removeInput(i);
  }
  const combo = node.widgets.find((w) => w.inputDef === input);
  const before = node.widgets.length;
  const slotsBefore = node.inputs?.length ?? 0;
  for (const sub of dynamicChoice(input, combo.value)) addDefInput(node, sub, app);
  for (const item of [...node.widgets.slice(before), ...(node.inputs ?? []).slice(slotsBefore)]) {
    if (owned(item.name)) item.label = item.name.slice(prefix.length);
  }
  let at = node.widgets.indexOf(combo) + 1;
  while (node.widgets[at]?.linkedInput === input) at += 1;
  node.widgets.splice(at, 0, ...node.widgets.splice(before));
}

/**
 * Give every dynamic combo the option saved in `values` (a widgets_values array) before
 * litegraph assigns the values by position, so each value lands on its own widget.
 */
function applySavedChoices(node, values, app) {
  if (!Array.isArray(values) || !node.widgets) return;
  for (let i = 0, position = 0; i < node.widgets.length; i++) {
    const widget = node.widgets[i];
    if (widget.serialize === false) continue;
    if (widget.inputDef?.options.choices && position < values.length && values[position] !== widget.value) {
      widget.value = values[position];
      showDynamicChoice(node, widget.inputDef, app);
    }
    position += 1;
  }
}

/** The sockets of each dynamic combo's option that a loaded file did not list (unlinked). */
function addChoiceSockets(node) {
  for (const widget of node.widgets ?? []) {
    if (!widget.inputDef?.options.choices) continue;
    for (const sub of dynamicChoice(widget.inputDef, widget.value)) {
      if (sub.widget || node.inputs.some((slot) => slot.name === sub.name)) continue;
      addSubSocket(node, sub, widget.inputDef);
    }
  }
}

/** The type a link carries: its origin output's (litegraph types a link after its input). */
function linkTypeOf(node, id) {
  const graph = node.graph;
  const link = graph?._links?.get?.(id) ?? graph?.links?.[id];
  const origin = link ? graph.getNodeById(link.origin_id) : null;
  return origin?.outputs?.[link.origin_slot]?.type ?? link?.type;
}

/** Bring growing lists and type-following slots in line with the node's links. */
export function syncDynamicSlots(node) {
  const def = node.constructor.nodeData;
  if (!def || !node.inputs) return;
  addChoiceSockets(node);
  for (const slot of node.inputs) {
    const owner = def.inputs.find((i) => (i.options.autogrow || i.options.choices) && slot.name.startsWith(`${i.name}.`));
    if (owner && !slot.label) slot.label = slot.name.slice(owner.name.length + 1);
  }
  if (!hasDynamicSlots(def)) return;
  for (const input of def.inputs.filter((i) => i.options.autogrow)) {
    const { add, remove } = autogrowChanges(input, node.inputs);
    for (const index of remove) node.removeInput(index);
    for (const socket of add) addSubSocket(node, socket, input);
  }
  const { inputs, outputs } = matchTypeChanges(def, node.inputs, (id) => linkTypeOf(node, id));
  for (const [i, type] of inputs) node.inputs[i].type = type;
  for (const [i, type] of outputs) node.outputs[i].type = type;
  fitNode(node);
}

function fitNode(node) {
  const size = node.computeSize();
  node.setSize([Math.max(node.size?.[0] ?? 0, MIN_WIDTH, size[0]), size[1]]);
}

/** Build inputs, widgets and outputs of a fresh node from its definition, in input order. */
export function buildNode(node, def, app) {
  for (const input of def.inputs) addDefInput(node, input, app);
  def.outputs.forEach((output) => {
    node.addOutput(output.name, output.type, { tooltip: output.tooltip, shape: output.isList ? 6 : undefined });
  });
  const size = node.computeSize();
  node.setSize([Math.max(MIN_WIDTH, size[0]), size[1]]);
}

/**
 * Register one litegraph class per NodeDef, letting extensions adjust each class first.
 * @param {object} app the editor app (LiteGraph, LGraphNode, extensions, widget factories)
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs
 */
export async function registerNodeTypes(app, defs) {
  const { LiteGraph, LGraphNode } = app.lib;
  for (const def of Object.values(defs)) {
    const NodeClass = class extends LGraphNode {
      constructor(title) {
        super(title);
        this.serialize_widgets = true;
        this.comfyClass = def.name;
        buildNode(this, def, app);
      }

      /**
       * Saved slots replace the built ones (litegraph would merge them index by index);
       * dynamic combos first show their saved option, so the values after them fit.
       */
      configure(info) {
        applySavedChoices(this, info.widgets_values, app);
        if (Array.isArray(info.inputs)) this.inputs = [];
        if (Array.isArray(info.outputs)) this.outputs = [];
        this.configuring = true;
        try {
          super.configure(info);
        } finally {
          this.configuring = false;
        }
        syncDynamicSlots(this);
      }

      onConnectionsChange(...args) {
        super.onConnectionsChange?.(...args);
        if (!this.configuring) syncDynamicSlots(this);
      }
    };
    Object.defineProperty(NodeClass, "name", { value: def.name.replace(/\W/g, "_") });
    NodeClass.title = def.displayName;
    NodeClass.comfyClass = def.name;
    NodeClass.nodeData = def;
    NodeClass.desc = def.description;
    await app.extensions.invoke("beforeRegisterNodeDef", NodeClass, def, app);
    LiteGraph.registerNodeType(def.name, NodeClass);
    NodeClass.category = def.category;
    if (def.deprecated) NodeClass.skip_list = true;
  }
}

/**
 * After a saved workflow was configured, give back every widget its input slot: files keep
 * only linked widget slots (COMPAT 3.2), appended slots keep existing link indexes valid.
 * A plain socket named like a widget is that widget converted to an input: left as it is.
 */
export function restoreWidgetSlots(node) {
  for (const widget of node.widgets ?? []) {
    if (widget.name === "control_after_generate" || widget.type === "button") continue;
    if (node.inputs?.some((slot) => (slot.widget?.name ?? slot.name) === widget.name)) continue;
    const input = widget.inputDef ?? findInput(node.constructor.nodeData, widget.name);
    if (input) node.addInput(input.name, input.type, { widget: { name: input.name }, tooltip: input.tooltip });
  }
}

/**
 * Register the node class of a subgraph definition (COMPAT 3.2): its instances are nodes
 * whose type is the definition's uuid, with the definition's inputs, outputs and promoted
 * widgets (litegraph's SubgraphNode). Called whenever litegraph creates a subgraph.
 */
export function registerSubgraphType(app, subgraph) {
  const { LiteGraph, SubgraphNode } = app.lib;
  const blank = { id: -1, type: subgraph.id, pos: [0, 0], size: [MIN_WIDTH, 60], flags: {}, order: 0, mode: 0,
    inputs: [], outputs: [], properties: {} };
  const SubgraphInstance = class extends SubgraphNode {
    constructor() {
      super(app.graph, subgraph, blank);
      this.comfyClass = subgraph.id;
      this.serialize_widgets = true;
      // litegraph draws this button in an icon font the editor does not load
      for (const button of this.title_buttons ?? []) if (button.name === "enter_subgraph") button.text = OPEN_GLYPH;
    }

    /** At least as wide as other nodes, so the title and slot names fit. */
    computeSize(out) {
      const size = super.computeSize(out);
      size[0] = Math.max(size[0], MIN_WIDTH);
      return size;
    }

    /** Promoted copies of DOM widgets would share the inner node's element: use plain text. */
    _internalConfigureAfterSlots() {
      super._internalConfigureAfterSlots();
      this.widgets.forEach((widget, i) => {
        if (!widget.element) return;
        const text = this.addWidget("text", widget.name, "", () => {}, {});
        this.widgets.pop();
        this.widgets[i] = text;
        const input = this.inputs.find((slot) => slot._widget === widget);
        if (input) input._widget = text;
      });
    }
  };
  SubgraphInstance.title = subgraph.name;
  SubgraphInstance.skip_list = true;
  LiteGraph.registerNodeType(subgraph.id, SubgraphInstance);
  SubgraphInstance.category = "subgraphs";
}
