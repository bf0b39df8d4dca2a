/**
 * UI workflow JSON -> API prompt (COMPAT 3.4), on the serialised workflow rather than the
 * live canvas so it runs under node and is unit-tested: widget values positionally
 * (control and upload entries skipped), links resolved through Reroute nodes, primitives,
 * bypassed nodes and subgraph boundaries, subgraph instances flattened, muted and virtual
 * nodes left out, dangling links removed, missing widget values defaulted, legacy group
 * nodes expanded (group_nodes.js). comfy_core/graph/workflow_convert.py is the
 * same conversion for the command line; keep the two in step.
 */
import { typesCompatible } from "./node_defs.js";
import { widgetValuesToInputs } from "./widget_values.js";
import { processDynamicPrompt } from "./dynamic_prompts.js";
import { expandGroupNodes } from "./group_nodes.js";

/** Node modes of the UI format (COMPAT 3.2). */
export const MODE = Object.freeze({ ALWAYS: 0, ON_EVENT: 1, NEVER: 2, ON_TRIGGER: 3, BYPASS: 4 });
/** Frontend-only node types that never reach the server. */
export const VIRTUAL_NODE_TYPES = Object.freeze(["Reroute", "PrimitiveNode", "Note", "MarkdownNote"]);

/** Read a link in either the 0.4 array form or the schema-1 object form. */
export function readLink(link) {
  if (Array.isArray(link)) {
    const [id, originId, originSlot, targetId, targetSlot, type] = link;
    return { id, originId, originSlot, targetId, targetSlot, type };
  }
  return {
    id: link.id, originId: link.origin_id, originSlot: link.origin_slot,
    targetId: link.target_id, targetSlot: link.target_slot, type: link.type,
  };
}

/** Ids of a subgraph's boundary nodes in its links (COMPAT 3.2). */
export const SUBGRAPH_INPUT_ID = -10;
export const SUBGRAPH_OUTPUT_ID = -20;
/** Deeper nesting than this is taken for a subgraph that contains itself. */
const MAX_SUBGRAPH_DEPTH = 32;

function indexById(items, read = (x) => x) {
  const map = new Map();
  for (const raw of items ?? []) {
    const item = read(raw);
    map.set(String(item.id), item);
  }
  return map;
}

/** Every subgraph definition of a workflow by id, nested `definitions` included. */
export function subgraphDefinitions(workflow, into = new Map()) {
  for (const def of workflow?.definitions?.subgraphs ?? []) {
    if (into.has(def.id)) continue;
    into.set(def.id, def);
    subgraphDefinitions(def, into);
  }
  return into;
}

/**
 * One graph level being converted: the root, or a subgraph definition seen through one
 * instance. `prefix` makes execution ids ("12:" + inner id, COMPAT 3.4 step 2).
 */
function makeScope(graph, prefix = "", parent = null) {
  return { nodes: indexById(graph.nodes), links: indexById(graph.links, readLink), prefix, parent, def: parent ? graph : null };
}

function childScope(scope, instance, def) {
  const prefix = `${scope.prefix}${instance.id}:`;
  if (prefix.split(":").length > MAX_SUBGRAPH_DEPTH) {
    throw new Error(`subgraph '${def.name ?? def.id}' nests deeper than ${MAX_SUBGRAPH_DEPTH} levels (does it contain itself?)`);
  }
  return makeScope(def, prefix, { scope, node: instance });
}

/**
 * Which input of a bypassed node stands in for its output `slot` of type `type`: the input
 * at the same index if compatible, else the first of exactly that type, else the first
 * compatible one (COMPAT 3.4).
 */
export function bypassInput(node, slot, type) {
  const inputs = node.inputs ?? [];
  const same = inputs[slot];
  if (same && typesCompatible(type, same.type)) return same;
  return inputs.find((i) => i.type === type) ?? inputs.find((i) => typesCompatible(type, i.type)) ?? null;
}

/**
 * Indexes of a definition's inputs shown as widgets on its instances: those linked to a
 * widget input inside. Instances keep these widgets' values in order in widgets_values.
 */
export function promotedInputs(def) {
  const nodes = indexById(def.nodes);
  const targetsWidget = (link) => Boolean(nodes.get(String(link.targetId))?.inputs?.[link.targetSlot]?.widget);
  const links = (def.links ?? []).map(readLink).filter((l) => Number(l.originId) === SUBGRAPH_INPUT_ID);
  return (def.inputs ?? []).map((_, i) => i).filter((i) => links.some((l) => Number(l.originSlot) === i && targetsWidget(l)));
}

/** Follow a subgraph's input `slot` out through its instance: a link, a promoted value, or nothing. */
function resolveSubgraphInput(scope, slot, ctx, seen) {
  if (!scope.parent) return null;
  const { scope: outer, node: instance } = scope.parent;
  const name = scope.def.inputs?.[slot]?.name;
  const input = instance.inputs?.find((i) => i.name === name);
  if (input?.link != null) return resolveLink(outer, input.link, ctx, seen);
  const k = promotedInputs(scope.def).indexOf(slot);
  const values = instance.widgets_values;
  return k >= 0 && Array.isArray(values) && k < values.length ? { value: values[k] } : null;
}

/** Follow an instance's output `slot` into its definition, to what feeds the output node. */
function resolveSubgraphOutput(scope, instance, slot, ctx, seen) {
  const def = ctx.definitions.get(instance.type);
  const inner = childScope(scope, instance, def);
  const link = [...inner.links.values()].find((l) => Number(l.targetId) === SUBGRAPH_OUTPUT_ID && Number(l.targetSlot) === slot);
  return link ? resolveLink(inner, link.id, ctx, seen) : null;
}

/**
 * Follow link `linkId` of `scope` back to a real producer.
 * @returns {{link: [string, number]}|{value: any}|null} a link, a primitive's or promoted
 *   widget's value, or nothing (the link is dropped)
 */
function resolveLink(scope, linkId, ctx, seen = new Set()) {
  const link = scope.links.get(String(linkId));
  if (!link) return null;
  if (Number(link.originId) === SUBGRAPH_INPUT_ID) return resolveSubgraphInput(scope, link.originSlot, ctx, seen);
  const key = String(link.originId);
  const origin = scope.nodes.get(key);
  const id = scope.prefix + key;
  if (!origin) return { link: [id, link.originSlot] };
  if (seen.has(`${id}/${link.originSlot}`)) return null;
  seen.add(`${id}/${link.originSlot}`);
  if (origin.type === "Reroute") {
    const input = origin.inputs?.[0];
    return input?.link != null ? resolveLink(scope, input.link, ctx, seen) : null;
  }
  if (origin.type === "PrimitiveNode") {
    const values = origin.widgets_values;
    return Array.isArray(values) && values.length ? { value: values[0] } : null;
  }
  if (origin.mode === MODE.BYPASS) {
    const input = bypassInput(origin, link.originSlot, link.type);
    return input?.link != null ? resolveLink(scope, input.link, ctx, seen) : null;
  }
  if (ctx.definitions.has(origin.type)) return resolveSubgraphOutput(scope, origin, link.originSlot, ctx, seen);
  return { link: [id, link.originSlot] };
}

/** Arrays sent as constants must be wrapped so they are not read as links (COMPAT 3.1). */
export function wrapConstant(value) {
  return Array.isArray(value) ? { __value__: value } : value;
}

function isDynamic(input) {
  return input?.widget === "STRING" && Boolean(input.options.dynamicPrompts);
}

function convertNode(scope, node, def, ctx) {
  const read = def ? widgetValuesToInputs(def, node.widgets_values) : { values: {}, inputs: {} };
  const values = { ...read.values };
  const links = {};
  for (const slot of node.inputs ?? []) {
    if (slot.link == null) continue;
    const resolved = resolveLink(scope, slot.link, ctx);
    const name = slot.widget?.name ?? slot.name;
    if (resolved && "link" in resolved) {
      links[name] = resolved.link;
      delete values[name];
    } else if (resolved) values[name] = resolved.value;
  }
  const inputs = {};
  for (const [name, raw] of Object.entries(values)) {
    // The frontend applies dynamic prompts to root-graph nodes only: text inside a subgraph
    // (a converted group node included) is sent as written.
    const dynamic = !scope.prefix && typeof raw === "string" && isDynamic(read.inputs[name]);
    const value = dynamic ? processDynamicPrompt(raw, ctx.random) : raw;
    inputs[name] = wrapConstant(value);
  }
  Object.assign(inputs, links);
  const title = node.title ?? def?.displayName ?? node.type;
  return { inputs, class_type: node.type, _meta: { title } };
}

function convertScope(scope, ctx, prompt) {
  for (const node of scope.nodes.values()) {
    if (ctx.virtual.has(node.type) || node.mode === MODE.NEVER || node.mode === MODE.BYPASS) continue;
    if (ctx.definitions.has(node.type)) {
      convertScope(childScope(scope, node, ctx.definitions.get(node.type)), ctx, prompt);
      continue;
    }
    prompt[scope.prefix + String(node.id)] = convertNode(scope, node, ctx.defs[node.type], ctx);
  }
}

function isLink(value) {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string";
}

function dropDanglingLinks(prompt) {
  for (const entry of Object.values(prompt)) {
    for (const [name, value] of Object.entries(entry.inputs)) {
      if (isLink(value) && !(value[0] in prompt)) delete entry.inputs[name];
    }
  }
}

/** Keep only `targets` and the nodes they depend on (COMPAT 3.4 step 7). */
export function keepAncestors(prompt, targets) {
  const keep = new Set();
  const stack = targets.map(String).filter((id) => id in prompt);
  while (stack.length) {
    const id = stack.pop();
    if (keep.has(id)) continue;
    keep.add(id);
    for (const value of Object.values(prompt[id].inputs)) {
      if (isLink(value) && value[0] in prompt) stack.push(value[0]);
    }
  }
  return Object.fromEntries(Object.entries(prompt).filter(([id]) => keep.has(id)));
}

/**
 * Convert a UI workflow into an API prompt. Subgraph instances are flattened: their inner
 * nodes get execution ids "<instance>:<inner>" (nested "12:7:3"), links cross the -10/-20
 * boundary nodes, and an unlinked instance input yields its promoted widget's value.
 * @param {object} workflow UI workflow JSON (schema 0.4 or 1, root graph)
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs normalised node definitions
 * @param {{random?: () => number, virtualTypes?: string[], outputTargets?: string[]}} [opts]
 * @returns {Object<string, {inputs: object, class_type: string, _meta: {title: string}}>}
 * @throws {Error} when subgraphs nest without end, or a group node cannot be expanded
 */
export function workflowToPrompt(workflow, defs, opts = {}) {
  workflow = expandGroupNodes(workflow, defs);
  const ctx = {
    defs, random: opts.random ?? Math.random, definitions: subgraphDefinitions(workflow),
    virtual: new Set([...VIRTUAL_NODE_TYPES, ...(opts.virtualTypes ?? [])]),
  };
  const prompt = {};
  convertScope(makeScope(workflow), ctx, prompt);
  dropDanglingLinks(prompt);
  return opts.outputTargets ? keepAncestors(prompt, opts.outputTargets) : prompt;
}

/**
 * The POST /prompt body (COMPAT 3.4): client id, prompt, the workflow for PNG metadata,
 * and optional front/number/partial targets.
 */
export function buildPromptRequest({ clientId, prompt, workflow, front, number, targets, previewMethod }) {
  const body = { client_id: clientId, prompt, extra_data: { extra_pnginfo: { workflow } } };
  // As ComfyUI's frontend: "default" (or no choice) leaves it to the server's --preview-method.
  if (previewMethod && previewMethod !== "default") body.extra_data.preview_method = previewMethod;
  if (front) body.front = true;
  if (number !== undefined && number !== null) body.number = number;
  if (targets?.length) body.partial_execution_targets = targets.map(String);
  return body;
}
