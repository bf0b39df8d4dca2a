/**
 * The "Primitive" node (utils, type PrimitiveNode): an untyped output "connect to widget
 * input" that, once linked to a widget input (a widget slot or a widget converted to an
 * input), takes that input's type and builds the same widget, starting from the target's
 * value. Further links must fit (graph/primitive.js narrows the config); its value drives
 * every linked widget, and to_prompt.js reads it from widgets_values. Numbers and combos
 * get the control_after_generate widget that value_control.js moves after each queue.
 * Without links it is untyped again. Virtual: it never reaches the server.
 */
import {
  PRIMITIVE_SEARCH_DEF, PRIMITIVE_TYPE, UNTYPED_OUTPUT_NAME, FILTER_WIDGET_NAME, adoptConfig, filterChoices,
  fitValue, hasPrimitiveControl, mergeAll, mergeConfigs, readPrimitiveValues, widgetInputOf,
} from "../../graph/primitive.js";
import { defaultValue } from "../../graph/widget_values.js";
import { addControlWidget } from "../../graph/canvas_widgets.js";

const WIDTH = 260;

/** The widget inputs `node`'s output feeds: [{node, input (InputDef), widget}]. */
export function primitiveTargets(node) {
  const graph = node.graph;
  const targets = [];
  for (const id of node.outputs?.[0]?.links ?? []) {
    const link = graph?._links.get(id);
    const target = link ? graph.getNodeById(link.target_id) : null;
    const input = widgetInputOf(target?.constructor.nodeData, target?.inputs?.[link?.target_slot]);
    if (input) targets.push({ node: target, input, widget: target.widgets?.find((w) => w.name === input.name) });
  }
  return targets;
}

function primitiveClass(app) {
  const { LGraphNode, LiteGraph } = app.lib;
  return class PrimitiveNode extends LGraphNode {
    static title = "Primitive";

    constructor(title) {
      super(title);
      this.isVirtualNode = true;
      this.serialize_widgets = true;
      this.config = null;
      this.savedValues = null;
      this.properties = { ...this.properties, "Run widget replace on values": false };
      this.addOutput(UNTYPED_OUTPUT_NAME, "*");
      this.size = [WIDTH, 40];
    }

    /** Links during configure are resolved later (loadedGraphNode): targets may not be configured yet. */
    configure(info) {
      this.loading = true;
      try {
        super.configure(info);
      } finally {
        this.loading = false;
      }
      this.savedValues = Array.isArray(info.widgets_values) ? structuredClone(info.widgets_values) : null;
      if (!(this.outputs[0]?.links ?? []).some((id) => this.graph?._links.has(id))) this.setUntypedOutput();
    }

    /** Refuse plain sockets and widget inputs whose config does not fit the current one. */
    onConnectOutput(slot, type, input, target) {
      const spec = widgetInputOf(target?.constructor.nodeData, input);
      if (!spec) {
        app.notify("A Primitive connects only to widget inputs");
        return false;
      }
      if (!this.config) return true;
      const merged = mergeConfigs(this.config, adoptConfig(spec));
      if (!merged.config) app.notify(`The Primitive cannot also feed ${spec.name}: ${merged.reason}`);
      return Boolean(merged.config);
    }

    onConnectionsChange(kind) {
      if (kind === LiteGraph.OUTPUT && !this.loading) this.refresh();
    }

    /** Keep the saved values of a primitive whose targets are unknown, so nothing is lost on save. */
    onSerialize(o) {
      if (!this.config && this.savedValues) o.widgets_values = structuredClone(this.savedValues);
    }

    /**
     * Rebuild from the current links: type, widgets and output name follow the targets.
     * @param {any[]|null} saved widgets_values to restore (loading), else the current state
     */
    refresh(saved = null) {
      const targets = primitiveTargets(this);
      if (!targets.length) {
        if (!this.outputs[0].links?.length) this.untype();
        return;
      }
      const config = mergeAll(targets.map((t) => adoptConfig(t.input))).config ?? adoptConfig(targets[0].input);
      // a pasted primitive brings its value along and keeps it when linked again
      const restore = saved ?? (!this.config && this.savedValues?.length ? this.savedValues : null);
      const state = restore ? readPrimitiveValues(restore) : this.currentState(targets[0]);
      if (restore || JSON.stringify(config) !== JSON.stringify(this.config)) this.build(config, state);
      this.savedValues = null;
      const output = this.outputs[0];
      output.type = config.type;
      output.name = config.type;
      output.widget = { name: targets[0].input.name };
      this.pushValue(targets);
    }

    /** Value, control and filter now: the own widgets once typed, else the first target's value. */
    currentState(first) {
      if (!this.config) return { ...readPrimitiveValues([]), value: first.widget?.value };
      return readPrimitiveValues(this.widgets.map((w) => w.value));
    }

    untype() {
      this.removeOwnWidgets();
      this.config = null;
      this.savedValues = null;
      this.setUntypedOutput();
      this.setSize([WIDTH, this.computeSize()[1]]);
    }

    setUntypedOutput() {
      const output = this.outputs[0];
      output.type = "*";
      output.name = UNTYPED_OUTPUT_NAME;
      delete output.widget;
    }

    removeOwnWidgets() {
      for (const widget of [...(this.widgets ?? [])]) {
        widget.onRemove?.();
        this.removeWidget(widget);
      }
    }

    build(config, state) {
      this.removeOwnWidgets();
      this.config = config;
      const factory = app.widgetFactories[config.widget];
      if (!factory) throw new Error(`no widget factory for type ${config.widget} (Primitive ${this.id})`);
      const widget = factory(this, config, fitValue(state.value ?? defaultValue(config), config), app);
      const own = widget.callback;
      widget.callback = (...args) => {
        own?.apply(widget, args);
        this.pushValue();
      };
      if (hasPrimitiveControl(config)) this.addControls(config, widget, state);
      const size = this.computeSize();
      this.setSize([Math.max(WIDTH, this.size[0]), size[1]]);
    }

    /** The control combo (value_control.js applies it); combos also get the choice filter. */
    addControls(config, widget, state) {
      const control = addControlWidget(this, config, widget, state.control);
      if (config.widget !== "COMBO") return;
      const filter = this.addWidget("text", FILTER_WIDGET_NAME, state.filter, () => {}, {});
      Object.defineProperty(control, "linkedInput", {
        get: () => ({ ...config, options: { ...config.options, values: filterChoices(config.options.values ?? [], filter.value) } }),
      });
    }

    /** Copy the value into every linked widget (what ComfyUI's applyToGraph does). */
    pushValue(targets = primitiveTargets(this)) {
      const value = this.widgets?.[0]?.value;
      if (!this.config) return;
      for (const target of targets) {
        if (target.widget) target.widget.value = value;
      }
      app.markDirty();
    }
  };
}

export const primitiveNodeExtension = {
  name: "core.primitive_node",
  registerCustomNodes(app) {
    const cls = primitiveClass(app);
    app.lib.LiteGraph.registerNodeType(PRIMITIVE_TYPE, cls);
    cls.category = "utils";
    app.frontendDefs[PRIMITIVE_TYPE] = PRIMITIVE_SEARCH_DEF;
  },
  loadedGraphNode(node) {
    if (node.type === PRIMITIVE_TYPE) node.refresh(node.savedValues);
  },
  beforeQueue(app) {
    for (const node of app.graph._nodes) {
      if (node.type === PRIMITIVE_TYPE) node.pushValue();
    }
  },
};
