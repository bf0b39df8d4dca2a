/**
 * API prompt -> UI workflow (schema 0.4), so an API-format JSON dropped on the editor (or
 * the "prompt" chunk of a PNG) opens as a graph. Controls come back as "fixed" so the graph
 * queues the same prompt again; nodes are laid out in columns by dependency depth. Pure.
 */
import { inputsToWidgetValues } from "./widget_values.js";
import { findInput } from "./node_defs.js";

const COLUMN_WIDTH = 360;
const ROW_GAP = 40;
const ORIGIN = [60, 60];

function isLink(value) {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string";
}

function unwrap(value) {
  return value && typeof value === "object" && !Array.isArray(value) && "__value__" in value
    ? value.__value__ : value;
}

function nodeId(key) {
  return /^\d+$/.test(key) ? Number(key) : key;
}

/** Longest distance from a source, per node id; cycles are cut where they are met. */
function depths(prompt) {
  const memo = new Map();
  const visit = (id, trail) => {
    if (memo.has(id)) return memo.get(id);
    if (trail.has(id) || !(id in prompt)) return 0;
    trail.add(id);
    let depth = 0;
    for (const value of Object.values(prompt[id].inputs ?? {})) {
      if (isLink(value) && value[0] in prompt) depth = Math.max(depth, visit(value[0], trail) + 1);
    }
    trail.delete(id);
    memo.set(id, depth);
    return depth;
  };
  for (const id of Object.keys(prompt)) visit(id, new Set());
  return memo;
}

/** Node size before litegraph measures it: title, slot rows, widget rows (textareas taller). */
function estimateSize(def, widgetCount) {
  if (!def) return [320, 46 + 26 * widgetCount];
  const slots = Math.max(def.inputs.filter((i) => !i.widget).length, def.outputs.length, 1);
  const widgets = widgetCount + def.inputs.filter((i) => i.options.multiline).length * 3;
  return [320, 30 + 22 * slots + 24 * widgets];
}

function buildNode(key, entry, def, controlMode) {
  const inputs = entry.inputs ?? {};
  const constants = {};
  const controls = {};
  for (const [name, value] of Object.entries(inputs)) {
    if (!isLink(value)) constants[name] = unwrap(value);
  }
  for (const input of def?.inputs ?? []) controls[input.name] = controlMode;
  const node = {
    id: nodeId(key), type: entry.class_type, pos: [0, 0], size: [0, 0], flags: {}, order: 0, mode: 0,
    inputs: [], outputs: (def?.outputs ?? []).map((o, i) => ({ name: o.name, type: o.type, links: [], slot_index: i })),
    properties: { "Node name for S&R": entry.class_type },
    widgets_values: def ? inputsToWidgetValues(def, constants, controls) : [],
  };
  const title = entry._meta?.title;
  if (title && title !== (def?.displayName ?? entry.class_type)) node.title = title;
  return node;
}

function slotFor(def, name) {
  const input = findInput(def, name);
  if (!input) return { name, type: "*", link: null };
  const slot = { name, type: input.type, link: null };
  if (input.widget) slot.widget = { name };
  return slot;
}

/**
 * Convert an API prompt into a UI workflow.
 * @param {object} prompt API prompt `{id: {class_type, inputs, _meta?}}`
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs normalised node definitions
 * @param {{controlMode?: string}} [opts] mode of every seed control (default "fixed")
 * @returns {object} workflow JSON, version 0.4
 */
export function promptToWorkflow(prompt, defs, opts = {}) {
  const controlMode = opts.controlMode ?? "fixed";
  const nodes = new Map();
  for (const [key, entry] of Object.entries(prompt)) {
    nodes.set(key, buildNode(key, entry, defs[entry.class_type], controlMode));
  }
  const links = [];
  for (const [key, entry] of Object.entries(prompt)) {
    const target = nodes.get(key);
    const def = defs[entry.class_type];
    const names = def ? def.inputs.map((i) => i.name) : [];
    const linked = Object.keys(entry.inputs ?? {}).filter((n) => isLink(entry.inputs[n]));
    // Sockets and linked widget inputs in definition order; unlinked widget slots are left
    // out as the frontend does on save (COMPAT 3.2).
    const order = [...(def?.inputs ?? []).filter((i) => !i.options.autogrow && (!i.widget || linked.includes(i.name)))
      .map((i) => i.name),
      ...linked.filter((n) => !names.includes(n))];
    for (const name of order) {
      const slot = slotFor(def, name);
      const value = entry.inputs?.[name];
      const origin = isLink(value) ? nodes.get(value[0]) : undefined;
      if (origin) {
        const originSlot = Number(value[1]);
        const type = origin.outputs[originSlot]?.type ?? slot.type;
        const id = links.length + 1;
        links.push([id, origin.id, originSlot, target.id, target.inputs.length, type]);
        slot.link = id;
        origin.outputs[originSlot]?.links.push(id);
      }
      target.inputs.push(slot);
    }
  }
  layout(prompt, nodes, defs);
  const numericIds = [...nodes.values()].map((n) => n.id).filter((id) => typeof id === "number");
  return {
    last_node_id: numericIds.length ? Math.max(...numericIds) : 0,
    last_link_id: links.length,
    nodes: [...nodes.values()], links, groups: [], config: {}, extra: {}, version: 0.4,
  };
}

function layout(prompt, nodes, defs) {
  const depth = depths(prompt);
  const columnY = new Map();
  const keys = [...nodes.keys()].sort((a, b) => depth.get(a) - depth.get(b));
  keys.forEach((key, order) => {
    const node = nodes.get(key);
    const d = depth.get(key) ?? 0;
    const y = columnY.get(d) ?? ORIGIN[1];
    node.size = estimateSize(defs[node.type], node.widgets_values.length);
    node.pos = [ORIGIN[0] + d * COLUMN_WIDTH, y];
    node.order = order;
    columnY.set(d, y + node.size[1] + ROW_GAP);
  });
}
