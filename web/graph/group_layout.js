/**
 * The instance interface of a legacy group node, derived from its recipe the way the older
 * editors' group-node code derived it: which instance widgets, inputs and outputs exist, in
 * which order, under which names, and which inner node and input each one stands for. The
 * rules are listed in group_nodes.js. comfy_core/graph/group_layout.py is the same code for
 * the command line; keep the two in step. Pure; unit-tested under node.
 *
 * @typedef {{inner: number, name: string, slot: number|null}} GroupTarget
 * @typedef {{def: import("./node_defs.js").NodeDef, widgets: Map<string, GroupTarget>,
 *            sockets: Map<string, GroupTarget>, outputs: Array<[number, number]>}} GroupLayout
 */
import { widgetKind } from "./node_defs.js";

const SEED_NAMES = ["seed", "noise_seed"];
/** Inner node types that add nothing to the instance. */
const SKIPPED_TYPES = ["Note", "MarkdownNote"];

function addTo(map, key, sub, value) {
  if (!map.has(key)) map.set(key, new Map());
  map.get(key).set(sub, value);
}

class LayoutBuilder {
  constructor(name, data, defOf) {
    this.name = name;
    this.data = data;
    this.defOf = defOf;
    this.nodes = (data.nodes ?? []).map((n) => (n && typeof n === "object" ? n : {}));
    this.linksTo = new Map();
    this.linksFrom = new Map();
    for (const link of data.links ?? []) {
      if (!Array.isArray(link) || link.length < 4 || link[0] == null) continue;
      const [from, fromSlot, to, toSlot] = link.map(Number);
      if (!this.linksFrom.has(from)) this.linksFrom.set(from, new Map());
      const out = this.linksFrom.get(from);
      if (!out.has(fromSlot)) out.set(fromSlot, []);
      out.get(fromSlot).push(link);
      addTo(this.linksTo, to, toSlot, link);
    }
    this.external = new Map();
    for (const ext of data.external ?? []) {
      if (Array.isArray(ext) && ext.length >= 3) addTo(this.external, Number(ext[0]), Number(ext[1]), ext[2]);
    }
    this.inputs = [];
    this.outputsDef = [];
    this.layout = { widgets: new Map(), sockets: new Map(), outputs: [] };
    this.seen = new Map();
    this.primitives = new Map();
    this.converted = [];
  }

  build() {
    this.nodes.forEach((node, index) => {
      const def = this.definition(index, node);
      if (!def) return;
      if (def.inputs.length) this.nodeInputs(index, node, def.inputs);
      this.nodeOutputs(index, def.outputs);
    });
    for (const args of this.converted) this.convertedWidgets(...args);
    this.layout.def = {
      name: `workflow>${this.name}`, displayName: this.name, category: "group nodes", description: "",
      inputs: this.inputs, hidden: [], outputs: this.outputsDef, outputNode: false, deprecated: false,
      experimental: false, pythonModule: `custom_nodes.${this.name}`,
    };
    return this.layout;
  }

  custom(index, kind, key) {
    const found = this.data.config?.[String(index)]?.[kind]?.[String(key)];
    return found && typeof found === "object" ? found : {};
  }

  definition(index, node) {
    const def = this.defOf(node.type);
    if (def) return def;
    if (node.type === "PrimitiveNode") return this.primitive(index, node);
    if (node.type === "Reroute") return this.reroute(index);
    if (SKIPPED_TYPES.includes(node.type)) return null;
    throw new Error(`group node '${this.name}': inner node ${index} has unknown type '${node.type}'`);
  }

  primitive(index, node) {
    const links = this.linksFrom.get(index)?.get(0);
    if (!links?.length) return null;
    let type = links[0][5] ?? "*";
    let options = {};
    if (type === "COMBO") {
      const widget = node.outputs?.[0]?.widget?.name;
      const target = this.defOf(this.nodes[Number(links[0][2])]?.type);
      options = { values: target?.inputs.find((i) => i.name === widget)?.options.values ?? [] };
    }
    const input = { name: "value", type, options, section: "required", widget: widgetKind(type, options), tooltip: undefined };
    this.primitives.set(index, input);
    return { inputs: [input], outputs: [{ name: type, type, isList: false }] };
  }

  reroute(index) {
    const from = this.linksFrom.get(index);
    const to = this.linksTo.get(index);
    if (to && from && !this.external.get(index)?.get(0)) return null;
    let type = "*";
    for (const link of from?.get(0) ?? []) {
      const slot = this.nodes[Number(link[2])]?.inputs?.[Number(link[3])];
      if (slot && type === "*") type = slot.type ?? "*";
    }
    if (!from && to) {
      const [origin, slot] = to.get(0) ?? [];
      type = this.nodes[Number(origin)]?.outputs?.[Number(slot)]?.type ?? "*";
    }
    if (type === "*") type = this.external.get(index)?.get(0) ?? "*";
    const input = { name: type, type, options: { forceInput: true }, section: "required", widget: null, tooltip: undefined };
    return { inputs: [input], outputs: [{ name: type, type, isList: false }] };
  }

  inputName(index, node, input, extra = null) {
    const custom = this.custom(index, "input", input.name);
    const label = (node.inputs ?? []).find((i) => i?.name === input.name)?.label;
    let name = custom.name || label || input.name;
    let key = name;
    let prefix = "";
    if ((node.type === "PrimitiveNode" && node.title) || this.seen.has(name)) {
      prefix = `${node.title ?? node.type} `;
      key = name = `${prefix}${input.name}`;
      if (this.seen.has(name)) name = `${prefix}${this.seen.get(name)} ${input.name}`;
    }
    this.seen.set(key, (this.seen.get(key) ?? 1) + 1);
    let options = extra ? { ...input.options, ...extra } : input.options;
    if (SEED_NAMES.includes(input.name)) options = { ...options, control_after_generate: `${prefix}control_after_generate` };
    const renamed = options === input.options && input.name === name && !extra ? input : { ...input, name, options };
    return { name, input: renamed, custom };
  }

  nodeInputs(index, node, inputs) {
    const slots = [];
    const converted = new Map();
    const nodeInputs = (node.inputs ?? []).filter((i) => i && typeof i === "object");
    for (const input of inputs) {
      if (!input.widget) {
        slots.push(input);
        continue;
      }
      const found = nodeInputs.findIndex((i) => i.name === input.name && i.widget?.name === input.name);
      if (found > -1) {
        converted.set(found, input);
        continue;
      }
      const { name, input: renamed } = this.inputName(index, node, input);
      if (this.primitives.get(index) === input) this.primitives.set(index, renamed);
      this.inputs.push(renamed);
      this.layout.widgets.set(name, { inner: index, name: input.name, slot: null });
    }
    const linksTo = this.linksTo.get(index);
    slots.forEach((input, slot) => {
      if (linksTo?.has(slot)) {
        this.primitiveFeeds(linksTo.get(slot), input);
        return;
      }
      const { name, input: renamed, custom } = this.inputName(index, node, input);
      if (custom.visible === false) return;
      this.inputs.push(renamed);
      this.layout.sockets.set(name, { inner: index, name: input.name, slot });
    });
    this.converted.push([index, node, slots, converted]);
  }

  convertedWidgets(index, node, slots, converted) {
    const linksTo = this.linksTo.get(index);
    // the older editors sorted these slot numbers as text
    [...converted.keys()].map(String).sort().forEach((key, k) => {
      const input = converted.get(Number(key));
      const slot = slots.length + k;
      if (linksTo?.has(slot)) {
        this.primitiveFeeds(linksTo.get(slot), input);
        return;
      }
      const { name, input: renamed } = this.inputName(index, node, input, { defaultInput: true });
      this.inputs.push(renamed);
      const target = { inner: index, name: input.name, slot };
      this.layout.widgets.set(name, target);
      this.layout.sockets.set(name, target);
    });
  }

  /** A PrimitiveNode feeding a widget takes that widget's options and a control entry. */
  primitiveFeeds(link, target) {
    const primitive = this.primitives.get(Number(link[0]));
    if (!primitive) return;
    const values = primitive.options.values;
    primitive.options = { ...target.options, control_after_generate: true };
    if (values) primitive.options.values = values;
  }

  nodeOutputs(index, outputs) {
    const from = this.linksFrom.get(index);
    outputs.forEach((output, slot) => {
      const internal = Boolean(from?.get(slot)?.length) && !this.external.get(index)?.get(slot);
      const visible = this.custom(index, "output", slot).visible ?? !internal;
      if (!visible) return;
      this.layout.outputs.push([index, slot]);
      this.outputsDef.push({ ...output });
    });
  }
}

/**
 * The instance interface of group `name`.
 * @param {string} name
 * @param {object} data the recipe from extra.groupNodes
 * @param {(type: string) => import("./node_defs.js").NodeDef|null} defOf node definitions
 * @returns {GroupLayout}
 * @throws {Error} naming the group and an inner node of unknown type
 */
export function buildGroupLayout(name, data, defOf) {
  if (!data || typeof data !== "object") throw new Error(`group node '${name}': its recipe in extra.groupNodes is not an object`);
  return new LayoutBuilder(name, data, defOf).build();
}
