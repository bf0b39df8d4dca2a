/**
 * Litegraph node classes built from NodeDefs: sockets for typed inputs, a widget plus a
 * widget-input slot (so a link can replace the widget) for widget inputs, the seed control
 * and upload entries of COMPAT 3.3, outputs with tooltips, and the category, display name
 * and description from /object_info. Behaviour beyond building stays in extensions.
 */
import { widgetLayout } from "./widget_values.js";
import { addControlWidget } from "./canvas_widgets.js";

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
  node.addInput(input.name, input.type, { widget: { name: input.name }, tooltip: input.tooltip });
  return widget;
}

/** Build inputs, widgets and outputs of a fresh node from its definition, in input order. */
export function buildNode(node, def, app) {
  const layout = widgetLayout(def);
  for (const input of def.inputs) {
    if (!input.widget) {
      node.addInput(input.name, input.type, { tooltip: input.tooltip });
      continue;
    }
    let widget = null;
    for (const slot of layout.filter((s) => s.input === input)) {
      if (slot.kind === "input") widget = addWidgetInput(node, input, slot, app);
      else if (slot.kind === "control") addControlWidget(node, input, widget, slot.defaultValue);
      else if (slot.kind === "upload") addUploadWidget(node, input, app);
    }
  }
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

      /** Saved slots replace the built ones (litegraph would merge them index by index). */
      configure(info) {
        if (Array.isArray(info.inputs)) this.inputs = [];
        if (Array.isArray(info.outputs)) this.outputs = [];
        super.configure(info);
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
    const def = node.constructor.nodeData;
    const input = def?.inputs.find((i) => i.name === widget.name);
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
