/**
 * Node search for the search box and the slot-release list: fuzzy matching of a query on
 * each node's display name, class name and category, optionally only nodes that can take
 * (or give) a link of a given type. Pure; unit-tested against the recorded object_info.
 */
import { typesCompatible } from "./node_defs.js";

const EXACT_BONUS = 1000;
const SUBSTRING_BASE = 200;
const PREFIX_BONUS = 100;
const WORD_START_BONUS = 40;
const CATEGORY_WEIGHT = 0.5;

function isWordStart(text, i) {
  if (i === 0) return true;
  const prev = text[i - 1];
  const here = text[i];
  return /[\s/_\-.]/.test(prev) || (prev === prev.toLowerCase() && here !== here.toLowerCase());
}

/**
 * How well `token` matches `text`, or null when it does not: an exact match beats a
 * substring (earlier and at word starts is better), which beats a subsequence (fewer and
 * shorter gaps are better). Case-insensitive.
 */
export function fuzzyScore(token, text) {
  const t = token.toLowerCase();
  const s = String(text ?? "");
  const lower = s.toLowerCase();
  if (!t) return 0;
  if (lower === t) return EXACT_BONUS;
  const at = lower.indexOf(t);
  if (at >= 0) {
    return SUBSTRING_BASE + (at === 0 ? PREFIX_BONUS : 0) + (isWordStart(s, at) ? WORD_START_BONUS : 0) - at - lower.length * 0.1;
  }
  let score = 0;
  let pos = 0;
  let previous = -2;
  for (const ch of t) {
    const found = lower.indexOf(ch, pos);
    if (found < 0) return null;
    score += found === previous + 1 ? 8 : (isWordStart(s, found) ? 6 : 1);
    previous = found;
    pos = found + 1;
  }
  return score - lower.length * 0.1;
}

function tokenScore(token, def) {
  const scores = [fuzzyScore(token, def.displayName), fuzzyScore(token, def.name)];
  const category = fuzzyScore(token, def.category);
  if (category !== null) scores.push(category * CATEGORY_WEIGHT);
  const valid = scores.filter((v) => v !== null);
  return valid.length ? Math.max(...valid) : null;
}

/** Score of a whole query (space-separated tokens, all must match), or null. */
export function nodeScore(query, def) {
  const tokens = query.trim().split(/\s+/).filter(Boolean);
  let total = 0;
  for (const token of tokens) {
    const score = tokenScore(token, def);
    if (score === null) return null;
    total += score;
  }
  return total;
}

/** Whether `def` has an input that accepts `type` (for a link dragged from an output). */
export function acceptsType(def, type) {
  return def.inputs.some((i) => typesCompatible(type, i.type));
}

/** Whether `def` has an output that can feed `type` (for a link dragged from an input). */
export function providesType(def, type) {
  return def.outputs.some((o) => typesCompatible(o.type, type));
}

/**
 * The node definitions matching `query`, best first.
 * @param {Object<string, import("./node_defs.js").NodeDef>|import("./node_defs.js").NodeDef[]} defs
 * @param {string} query free text; empty lists everything (alphabetically by display name)
 * @param {{inputType?: string, outputType?: string, limit?: number, includeDeprecated?: boolean}} [opts]
 *   inputType: keep nodes with an input accepting it; outputType: nodes with an output of it
 * @returns {import("./node_defs.js").NodeDef[]}
 */
export function searchNodes(defs, query, opts = {}) {
  const list = Array.isArray(defs) ? defs : Object.values(defs);
  const hits = [];
  for (const def of list) {
    if (def.deprecated && !opts.includeDeprecated) continue;
    if (opts.inputType && !acceptsType(def, opts.inputType)) continue;
    if (opts.outputType && !providesType(def, opts.outputType)) continue;
    const score = nodeScore(query ?? "", def);
    if (score !== null) hits.push({ def, score });
  }
  hits.sort((a, b) => b.score - a.score || a.def.displayName.localeCompare(b.def.displayName));
  return hits.slice(0, opts.limit ?? hits.length).map((h) => h.def);
}

/** Index of the first input of `def` accepting `type`, or -1. */
export function firstAcceptingInput(def, type) {
  return def.inputs.findIndex((i) => typesCompatible(type, i.type));
}

/** Index of the first output of `def` that can feed `type`, or -1. */
export function firstProvidingOutput(def, type) {
  return def.outputs.findIndex((o) => typesCompatible(o.type, type));
}
