/**
 * Legacy group nodes (the older editors' "group node" feature) -> subgraphs, so old
 * workflows open and queue in the editor and convert headless.
 *
 * A saved workflow keeps each group's recipe in `extra.groupNodes[name]`: `nodes` (inner
 * nodes in execution order; their position is their index), `links` (`[origin_index,
 * origin_slot, target_index, target_slot, old_origin_id, type]`), `external` (`[index,
 * output_slot, type]`: outputs also used outside) and an optional per-node `config`
 * (renamed or hidden inputs and outputs). An instance is a node of type `workflow>NAME`
 * (`workflow/NAME` in the oldest files) whose interface the editor derived from the inner
 * nodes' definitions:
 * - per inner node, its widget inputs become instance widgets (a seed also gets its control
 *   entry), then its sockets that no inner link feeds become instance inputs; widget inputs
 *   converted to sockets inside come after every node, as widgets shown as inputs; a
 *   PrimitiveNode inside contributes its value widget, typed like its target;
 * - a name already taken is prefixed with the inner node's title (or type), then numbered;
 * - outputs are the inner outputs that are not only used inside.
 *
 * Each instance becomes a subgraph instance with its own definition: the inner nodes keep
 * their index as id (so execution ids stay "<instance>:<index>") and hold the instance's
 * widget values. comfy_core/graph/group_nodes.py is the same conversion for the command
 * line; the two are tested on the same fixture.
 */
import { buildGroupLayout } from "./group_layout.js";
import { widgetLayout } from "./widget_values.js";

export const GROUP_PREFIXES = Object.freeze(["workflow>", "workflow/"]);
const MAX_GROUP_DEPTH = 16;
/** "legacy" in hex: marks the definitions made from group nodes. */
const ID_PREFIX = "6c656761-6379-4000-8000-";

const hex12 = (n) => n.toString(16).padStart(12, "0");

/** The group a node type instantiates (`workflow>NAME`), or null. */
export function groupName(type, groups) {
  if (typeof type !== "string" || !groups) return null;
  for (const prefix of GROUP_PREFIXES) {
    if (type.startsWith(prefix) && Object.hasOwn(groups, type.slice(prefix.length))) return type.slice(prefix.length);
  }
  return null;
}

function innerGraph(data) {
  const nodes = (data.nodes ?? []).map((raw, index) => {
    const node = raw && typeof raw === "object" ? structuredClone(raw) : { type: "Note" };
    node.id = index;
    node.inputs = (node.inputs ?? []).filter((i) => i && typeof i === "object").map((i) => ({ ...i, link: null }));
    node.outputs = (node.outputs ?? []).filter((o) => o && typeof o === "object").map((o) => ({ ...o, links: [] }));
    delete node.index;
    return node;
  });
  const graph = { nodes, links: [] };
  for (const link of data.links ?? []) {
    if (!Array.isArray(link) || link.length < 4 || link[0] == null) continue;
    const [from, fromSlot, to, toSlot] = link.map(Number);
    if (from < nodes.length && to < nodes.length) connect(graph, [from, fromSlot], [to, toSlot], link[5] ?? "*");
  }
  return graph;
}

/** Add a link object; a missing target slot is created. */
function connect(graph, [originId, originSlot], [targetId, targetSlot], type, targetName = null) {
  const id = graph.links.length + 1;
  graph.links.push({ id, origin_id: originId, origin_slot: originSlot, target_id: targetId, target_slot: targetSlot, type });
  const target = graph.nodes.find((n) => n.id === targetId);
  if (target) {
    while (target.inputs.length <= targetSlot) target.inputs.push({ name: targetName ?? `input_${target.inputs.length}`, type, link: null });
    target.inputs[targetSlot].link = id;
  }
  const origin = graph.nodes.find((n) => n.id === originId);
  if (origin) {
    while (origin.outputs.length <= originSlot) origin.outputs.push({ name: `output_${origin.outputs.length}`, type, links: [] });
    origin.outputs[originSlot].links.push(id);
  }
  return id;
}

function setWidget(node, name, value, defOf) {
  if (node.widgets_values && !Array.isArray(node.widgets_values) && typeof node.widgets_values === "object") {
    node.widgets_values[name] = value;
    return;
  }
  const def = node.type === "PrimitiveNode" ? null : defOf(node.type);
  const slots = def ? widgetLayout(def) : [{ name, kind: "input", defaultValue: null }];
  const position = slots.findIndex((s) => s.kind === "input" && s.name === name);
  if (position < 0) return;
  const values = Array.isArray(node.widgets_values) ? [...node.widgets_values] : [];
  while (values.length <= position) values.push(slots[values.length].defaultValue);
  values[position] = value;
  node.widgets_values = values;
}

function writeWidgetValues(inner, layout, values, defOf) {
  if (!Array.isArray(values)) return;
  widgetLayout(layout.def).forEach((slot, i) => {
    if (i >= values.length || slot.kind !== "input") return;
    const target = layout.widgets.get(slot.name);
    if (target) setWidget(inner.nodes[target.inner], target.name, values[i], defOf);
  });
}

function inputTarget(inner, layout, slot, j) {
  const key = slot.widget?.name ?? slot.name;
  const target = layout.sockets.get(key) ?? layout.widgets.get(key);
  if (!target) return [];
  const node = inner.nodes[target.inner];
  const spec = layout.def.inputs.find((i) => i.name === key);
  const type = spec?.type ?? slot.type ?? "*";
  let position = target.slot;
  if (position == null) {
    position = node.inputs.findIndex((i) => i.widget?.name === target.name || i.name === target.name);
    if (position < 0) {
      position = node.inputs.length;
      node.inputs.push({ name: target.name, type, widget: { name: target.name }, link: null });
    }
  }
  return [connect(inner, [-10, j], [target.inner, position], type, target.name)];
}

function definition(id, name, instance, layout, inner) {
  const ioId = (offset, j) => `${id.slice(0, 24)}${hex12(offset + j)}`;
  const inputs = (instance.inputs ?? []).filter((s) => s && typeof s === "object").map((slot, j) => ({
    id: ioId(0x100000, j), name: slot.name, type: slot.type ?? "*", linkIds: inputTarget(inner, layout, slot, j),
  }));
  const outputs = (instance.outputs ?? []).filter((s) => s && typeof s === "object").map((slot, j) => ({
    id: ioId(0x200000, j), name: slot.name, type: slot.type ?? "*",
    linkIds: j < layout.outputs.length ? [connect(inner, layout.outputs[j], [-20, j], slot.type ?? "*")] : [],
  }));
  return {
    id, version: 1, name, revision: 0,
    state: { lastGroupId: 0, lastNodeId: inner.nodes.length, lastLinkId: inner.links.length, lastRerouteId: 0 },
    config: {}, extra: {},
    inputNode: { id: -10, bounding: [-300, 0, 120, 60] }, outputNode: { id: -20, bounding: [900, 0, 120, 60] },
    inputs, outputs, widgets: [], groups: [], nodes: inner.nodes, links: inner.links,
  };
}

class GroupExpander {
  constructor(workflow, defs) {
    this.groups = workflow.extra?.groupNodes ?? {};
    this.defs = defs;
    this.layouts = new Map();
    this.building = new Set();
    this.definitions = [];
    this.defOf = (type) => {
      const name = groupName(type, this.groups);
      return name !== null ? this.layout(name, 0).def : (this.defs[type] ?? null);
    };
  }

  layout(name, depth) {
    if (depth > MAX_GROUP_DEPTH) throw new Error(`group node '${name}' nests deeper than ${MAX_GROUP_DEPTH} levels`);
    if (this.building.has(name)) throw new Error(`group node '${name}' contains itself`);
    if (!this.layouts.has(name)) {
      this.building.add(name);
      try {
        this.layouts.set(name, buildGroupLayout(name, this.groups[name], this.defOf));
      } finally {
        this.building.delete(name);
      }
    }
    return this.layouts.get(name);
  }

  instance(node, depth) {
    const name = groupName(node.type, this.groups);
    const layout = this.layout(name, depth);
    const id = `${ID_PREFIX}${hex12(this.definitions.length + 1)}`;
    const slot = this.definitions.push(null) - 1;
    const inner = innerGraph(this.groups[name]);
    writeWidgetValues(inner, layout, node.widgets_values, this.defOf);
    inner.nodes = inner.nodes.map((child) => (groupName(child.type, this.groups) !== null ? this.instance(child, depth + 1) : child));
    this.definitions[slot] = definition(id, name, node, layout, inner);
    return { ...node, type: id, title: node.title || name, widgets_values: [] };
  }
}

/**
 * A copy of `workflow` whose legacy group-node instances are subgraph instances (one
 * definition each, appended to `definitions.subgraphs`); the same object when it has none.
 * @param {object} workflow UI workflow JSON
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs
 * @throws {Error} naming the group when an inner node type is unknown or a group contains itself
 */
export function expandGroupNodes(workflow, defs) {
  const groups = workflow?.extra?.groupNodes;
  const nodes = workflow?.nodes ?? [];
  if (!groups || typeof groups !== "object" || !nodes.some((n) => groupName(n?.type, groups) !== null)) return workflow;
  const expander = new GroupExpander(workflow, defs);
  const out = { ...workflow };
  out.nodes = nodes.map((n) => (groupName(n?.type, groups) !== null ? expander.instance(n, 0) : n));
  out.definitions = { ...(workflow.definitions ?? {}) };
  out.definitions.subgraphs = [...(out.definitions.subgraphs ?? []), ...expander.definitions];
  const { groupNodes: _, ...extra } = workflow.extra;
  out.extra = extra;
  return out;
}
