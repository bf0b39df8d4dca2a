/**
 * Shape checks and tidying of workflow JSON shared by save, load and reload: tell an API
 * prompt from a UI workflow, reject files that are neither with a message naming the
 * problem, and compact unlinked widget-input slots the way saved files carry them. Pure.
 */
import { readLink } from "./to_prompt.js";

/** Whether `json` looks like an API prompt: every value an object with a class_type. */
export function isApiPrompt(json) {
  if (!json || typeof json !== "object" || Array.isArray(json)) return false;
  const values = Object.values(json);
  return values.length > 0 && values.every((v) => v && typeof v === "object" && typeof v.class_type === "string");
}

/**
 * Throw an Error naming the first structural problem of a UI workflow, else return it.
 * @param {any} json parsed file content
 * @returns {object} the same workflow
 */
export function checkWorkflow(json) {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new Error("workflow must be a JSON object");
  }
  if (!Array.isArray(json.nodes)) throw new Error("workflow has no 'nodes' list");
  if (json.links !== undefined && !Array.isArray(json.links)) throw new Error("workflow 'links' must be a list");
  json.nodes.forEach((node, i) => {
    if (!node || typeof node !== "object") throw new Error(`workflow node ${i} is not an object`);
    if (node.id === undefined || node.id === null) throw new Error(`workflow node ${i} has no id`);
    if (typeof node.type !== "string") throw new Error(`workflow node ${node.id} has no type`);
  });
  return json;
}

/**
 * Drop unlinked widget-input slots from every node and renumber the links' target slots to
 * the compacted indexes, as the frontend stores files (COMPAT 3.2). Returns a new object.
 */
export function compactWidgetInputs(workflow) {
  const copy = structuredClone(workflow);
  const remap = new Map();
  for (const node of copy.nodes ?? []) {
    const kept = [];
    (node.inputs ?? []).forEach((slot, i) => {
      if (slot.widget && slot.link == null) return;
      remap.set(`${node.id}:${i}`, kept.length);
      kept.push(slot);
    });
    if (node.inputs) node.inputs = kept;
  }
  copy.links = (copy.links ?? []).map((raw) => {
    const link = readLink(raw);
    const slot = remap.get(`${link.targetId}:${link.targetSlot}`) ?? link.targetSlot;
    if (Array.isArray(raw)) return [link.id, link.originId, link.originSlot, link.targetId, slot, link.type];
    return { ...raw, target_slot: slot };
  });
  return copy;
}
