/**
 * What ComfyUI's V3 dynamic inputs (COMPAT 6) do to a node's slots as links come and go,
 * worked out on plain slot lists so it is unit-tested without a canvas (graph/node_types.js
 * applies it to litegraph nodes):
 * - a growing list (COMFY_AUTOGROW_V3) shows its linked sockets plus one spare, at least
 *   min + 1 and at most max (as ComfyUI's frontend: two required sockets and a spare at first);
 * - a type-following group (COMFY_MATCHTYPE_V3) takes the type its first linked input
 *   carries: its unlinked inputs and its outputs show that type; with no link, inputs show
 *   their allowed types and outputs "*".
 * The third kind, the dynamic combo, changes widgets rather than links (widget_values.js
 * dynamicChoice, node_types.js).
 */
import { autogrowIndex, autogrowInputs, findInput } from "./node_defs.js";

/**
 * Sockets growing list `input` shows when its highest linked socket is `lastLinked` (-1:
 * none linked).
 */
export function autogrowCount(input, lastLinked) {
  const { min, max } = input.options.autogrow;
  return Math.min(max, Math.max(min + 1, lastLinked + 2));
}

/**
 * How to bring the sockets of growing list `input` among `slots` (a node's input slots,
 * `{name, link}`) to the count it should show.
 * @returns {{add: import("./node_defs.js").InputDef[], remove: number[]}} sockets to add,
 *   in order, and slot indexes to remove, highest first
 */
export function autogrowChanges(input, slots) {
  const present = new Map();
  slots.forEach((slot, i) => {
    const k = autogrowIndex(input, slot.name);
    if (k >= 0) present.set(k, i);
  });
  let lastLinked = -1;
  for (const [k, i] of present) if (slots[i].link != null) lastLinked = Math.max(lastLinked, k);
  const count = autogrowCount(input, lastLinked);
  const add = autogrowInputs(input, count).filter((_, k) => !present.has(k));
  const remove = [...present].filter(([k, i]) => k >= count && slots[i].link == null)
    .map(([, i]) => i).sort((a, b) => b - a);
  return { add, remove };
}

/**
 * The types the type-following inputs and outputs of a node take.
 * @param {import("./node_defs.js").NodeDef} def
 * @param {{name: string, link: any}[]} slots the node's input slots
 * @param {(linkId: any) => string|undefined} linkType the type a link carries
 * @returns {{inputs: [number, string][], outputs: [number, string][]}} (slot index, type)
 *   for every unlinked type-following input and every type-following output
 */
export function matchTypeChanges(def, slots, linkType) {
  const resolved = new Map();
  const defs = slots.map((slot) => findInput(def, slot.name));
  slots.forEach((slot, i) => {
    const id = defs[i]?.options.matchType;
    if (id === undefined || slot.link == null || resolved.get(id)) return;
    const type = linkType(slot.link);
    if (type && type !== "*") resolved.set(id, String(type));
  });
  const inputs = [];
  slots.forEach((slot, i) => {
    const id = defs[i]?.options.matchType;
    if (id !== undefined && slot.link == null) inputs.push([i, resolved.get(id) ?? defs[i].type]);
  });
  const outputs = [];
  def.outputs.forEach((output, i) => {
    if (output.matchType !== undefined) outputs.push([i, resolved.get(output.matchType) ?? "*"]);
  });
  return { inputs, outputs };
}

/** Whether `def` has any input or output that changes with links. */
export function hasDynamicSlots(def) {
  return def.inputs.some((i) => i.options.autogrow || i.options.matchType !== undefined) ||
    def.outputs.some((o) => o.matchType !== undefined);
}
