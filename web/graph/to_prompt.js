/**
 * UI workflow JSON -> API prompt (COMPAT 3.4), on the serialised workflow rather than the
 * live canvas so it runs under node and is unit-tested: widget values positionally
 * (control and upload entries skipped), links resolved through Reroute nodes, primitives and
 * bypassed nodes, muted and virtual nodes left out, dangling links removed.
 */
import { typesCompatible } from "./node_defs.js";
import { widgetValuesToInputs } from "./widget_values.js";
import { processDynamicPrompt } from "./dynamic_prompts.js";

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

function indexWorkflow(workflow) {
  const nodes = new Map();
  for (const node of workflow.nodes ?? []) nodes.set(String(node.id), node);
  const links = new Map();
  for (const raw of workflow.links ?? []) {
    const link = readLink(raw);
    links.set(String(link.id), link);
  }
  return { nodes, links };
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
 * Follow link `linkId` back to a real producer.
 * @returns {{link: [string, number]}|{value: any}|null} a link, a primitive's value, or
 *   nothing (the link is dropped)
 */
function resolveLink(index, linkId, seen = new Set()) {
  const link = index.links.get(String(linkId));
  if (!link) return null;
  const key = String(link.originId);
  const origin = index.nodes.get(key);
  if (!origin) return { link: [key, link.originSlot] };
  if (seen.has(key)) return null;
  seen.add(key);
  if (origin.type === "Reroute") {
    const input = origin.inputs?.[0];
    return input?.link != null ? resolveLink(index, input.link, seen) : null;
  }
  if (origin.type === "PrimitiveNode") {
    const values = origin.widgets_values;
    return Array.isArray(values) && values.length ? { value: values[0] } : null;
  }
  if (origin.mode === MODE.BYPASS) {
    const input = bypassInput(origin, link.originSlot, link.type);
    return input?.link != null ? resolveLink(index, input.link, seen) : null;
  }
  return { link: [key, link.originSlot] };
}

/** Arrays sent as constants must be wrapped so they are not read as links (COMPAT 3.1). */
export function wrapConstant(value) {
  return Array.isArray(value) ? { __value__: value } : value;
}

function widgetInputs(def, node, random) {
  const inputs = {};
  const { values } = widgetValuesToInputs(def, node.widgets_values);
  for (const input of def.inputs) {
    if (!(input.name in values)) continue;
    let value = values[input.name];
    if (input.widget === "STRING" && input.options.dynamicPrompts && typeof value === "string") {
      value = processDynamicPrompt(value, random);
    }
    inputs[input.name] = wrapConstant(value);
  }
  return inputs;
}

function convertNode(index, node, def, random) {
  const inputs = def ? widgetInputs(def, node, random) : {};
  for (const slot of node.inputs ?? []) {
    if (slot.link == null) continue;
    const resolved = resolveLink(index, slot.link);
    const name = slot.widget?.name ?? slot.name;
    if (resolved && "link" in resolved) inputs[name] = resolved.link;
    else if (resolved) inputs[name] = wrapConstant(resolved.value);
  }
  const title = node.title ?? def?.displayName ?? node.type;
  return { inputs, class_type: node.type, _meta: { title } };
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
 * Convert a UI workflow into an API prompt.
 * @param {object} workflow UI workflow JSON (schema 0.4 or 1, root graph)
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs normalised node definitions
 * @param {{random?: () => number, virtualTypes?: string[], outputTargets?: string[]}} [opts]
 * @returns {Object<string, {inputs: object, class_type: string, _meta: {title: string}}>}
 * @throws {Error} when the workflow contains subgraph instances (not supported yet)
 */
export function workflowToPrompt(workflow, defs, opts = {}) {
  const random = opts.random ?? Math.random;
  const virtual = new Set([...VIRTUAL_NODE_TYPES, ...(opts.virtualTypes ?? [])]);
  const subgraphIds = new Set((workflow.definitions?.subgraphs ?? []).map((s) => s.id));
  const index = indexWorkflow(workflow);
  const prompt = {};
  for (const node of workflow.nodes ?? []) {
    if (subgraphIds.has(node.type)) {
      throw new Error(`node #${node.id} is a subgraph instance; subgraphs cannot be queued yet`);
    }
    if (virtual.has(node.type) || node.mode === MODE.NEVER || node.mode === MODE.BYPASS) continue;
    prompt[String(node.id)] = convertNode(index, node, defs[node.type], random);
  }
  dropDanglingLinks(prompt);
  return opts.outputTargets ? keepAncestors(prompt, opts.outputTargets) : prompt;
}

/**
 * The POST /prompt body (COMPAT 3.4): client id, prompt, the workflow for PNG metadata,
 * and optional front/number/partial targets.
 */
export function buildPromptRequest({ clientId, prompt, workflow, front, number, targets }) {
  const body = { client_id: clientId, prompt, extra_data: { extra_pnginfo: { workflow } } };
  if (front) body.front = true;
  if (number !== undefined && number !== null) body.number = number;
  if (targets?.length) body.partial_execution_targets = targets.map(String);
  return body;
}
