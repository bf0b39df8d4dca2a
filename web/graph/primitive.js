/**
 * The pure half of the "Primitive" node (type PrimitiveNode, COMPAT 3.3/3.4): one value
 * shown as a widget and fed into the widget inputs it is linked to. Here: which widget
 * input a slot stands for, the config the primitive adopts from it, whether a further
 * target fits (and the narrowed config when it does), and the widgets_values layout
 * ([value] or [value, control] for numbers, [value, control, filter] for combos).
 * No DOM, no litegraph; the node class is extensions/core/primitive_node.js.
 */
import { BUILTIN_WIDGET_TYPES, findInput } from "./node_defs.js";
import { CONTROL_WIDGET_NAME, normaliseNumber } from "./widget_values.js";

export const PRIMITIVE_TYPE = "PrimitiveNode";
/** Name of the output while the primitive has no type yet. */
export const UNTYPED_OUTPUT_NAME = "connect to widget input";
export const VALUE_WIDGET_NAME = "value";
export const FILTER_WIDGET_NAME = "control_filter_list";
/** Control mode of a primitive that has none saved yet: the value stays as it is. */
export const DEFAULT_PRIMITIVE_CONTROL = "fixed";

/** Option keys that describe one target input rather than the value; never adopted. */
const TARGET_ONLY_OPTIONS = ["tooltip", "forceInput", "defaultInput", "image_upload", "control_after_generate", "lazy"];
const NUMBER_WIDGETS = ["INT", "FLOAT"];
const STEP_TOLERANCE = 1e-9;

/**
 * The node definition the search box lists for the Primitive. Its output type is the
 * union of the widget types so a link dragged from a widget input offers it, and only then.
 * @type {import("./node_defs.js").NodeDef}
 */
export const PRIMITIVE_SEARCH_DEF = Object.freeze({
  name: PRIMITIVE_TYPE, displayName: "Primitive", category: "utils",
  description: "One value (number, text, choice, toggle) fed into the widget inputs it is linked to.",
  inputs: [], hidden: [], outputs: [{ name: UNTYPED_OUTPUT_NAME, type: BUILTIN_WIDGET_TYPES.join(","), isList: false }],
  outputNode: false, deprecated: false, experimental: false, pythonModule: "frontend",
});

/**
 * The widget input of `def` that input slot `slot` stands for: a widget slot or a widget
 * converted to a plain socket (both named after the widget), or null for a plain socket.
 * @param {import("./node_defs.js").NodeDef|null|undefined} def
 * @param {{name: string, widget?: {name: string}}} slot
 */
export function widgetInputOf(def, slot) {
  const name = slot?.widget?.name ?? slot?.name;
  const input = findInput(def, name);
  return input?.widget ? input : null;
}

/**
 * The config a primitive takes from a target's input: the same widget kind and options
 * (min/max/step/round, combo values, multiline, ...) under the name "value".
 * @param {import("./node_defs.js").InputDef} input
 * @returns {import("./node_defs.js").InputDef}
 */
export function adoptConfig(input) {
  const options = { ...input.options };
  for (const key of TARGET_ONLY_OPTIONS) delete options[key];
  if (Array.isArray(options.values)) options.values = options.values.slice();
  return { name: VALUE_WIDGET_NAME, type: input.type, widget: input.widget, section: "required", options, tooltip: undefined };
}

function isMultiple(big, small) {
  const ratio = big / small;
  return Math.abs(ratio - Math.round(ratio)) < STEP_TOLERANCE * Math.max(1, ratio);
}

/** Narrow two number configs: the common [min, max] range and a step both allow. */
function mergeNumbers(a, b) {
  const min = Math.max(a.options.min ?? -Infinity, b.options.min ?? -Infinity);
  const max = Math.min(a.options.max ?? Infinity, b.options.max ?? Infinity);
  if (min > max) return { reason: `ranges [${a.options.min}, ${a.options.max}] and [${b.options.min}, ${b.options.max}] do not overlap` };
  const options = { ...a.options };
  if (Number.isFinite(min)) options.min = min;
  if (Number.isFinite(max)) options.max = max;
  const [sa, sb] = [a.options.step, b.options.step];
  if (sa !== undefined && sb !== undefined && sa !== sb) {
    const [big, small] = sa > sb ? [sa, sb] : [sb, sa];
    if (!(small > 0) || !isMultiple(big, small)) return { reason: `steps ${sa} and ${sb} do not fit each other` };
    options.step = big;
  } else options.step = sa ?? sb;
  if (options.step === undefined) delete options.step;
  const [ra, rb] = [a.options.round, b.options.round];
  if (typeof ra === "number" && typeof rb === "number") options.round = Math.max(ra, rb);
  return { options };
}

function sameList(x, y) {
  return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Whether a primitive configured as `current` may also feed an input configured as
 * `next` (both from adoptConfig), and the config that suits both.
 * @returns {{config: object|null, reason: string|null}} config null (with the reason)
 *   when the two do not fit: another type or widget kind, other combo choices, number
 *   ranges that do not overlap, steps that are not multiples, single- vs multiline text
 */
export function mergeConfigs(current, next) {
  const fail = (reason) => ({ config: null, reason });
  if (current.type !== next.type || current.widget !== next.widget) {
    return fail(`type ${next.type} (${next.widget}) is not ${current.type} (${current.widget})`);
  }
  if (NUMBER_WIDGETS.includes(current.widget)) {
    const merged = mergeNumbers(current, next);
    return merged.options ? { config: { ...current, options: merged.options }, reason: null } : fail(merged.reason);
  }
  if (current.widget === "COMBO") {
    return sameList(current.options.values, next.options.values) ? { config: current, reason: null } : fail("the combo choices differ");
  }
  if (current.widget === "STRING") {
    return Boolean(current.options.multiline) === Boolean(next.options.multiline)
      ? { config: current, reason: null } : fail("single-line and multiline text do not mix");
  }
  if (current.widget === "BOOLEAN") return { config: current, reason: null };
  return JSON.stringify(current.options) === JSON.stringify(next.options)
    ? { config: current, reason: null } : fail(`the ${current.widget} widget options differ`);
}

/**
 * Merge the configs of every target, first one first.
 * @returns {{config: object|null, reason: string|null}} config null when there are none
 *   or two do not fit
 */
export function mergeAll(configs) {
  if (!configs.length) return { config: null, reason: "no targets" };
  let config = configs[0];
  for (const next of configs.slice(1)) {
    const merged = mergeConfigs(config, next);
    if (!merged.config) return merged;
    config = merged.config;
  }
  return { config, reason: null };
}

/** Whether a primitive of `config` gets a control_after_generate widget (numbers, combos). */
export function hasPrimitiveControl(config) {
  return NUMBER_WIDGETS.includes(config.widget) || config.widget === "COMBO";
}

/** The widget names of a typed primitive, in widgets_values order. */
export function primitiveWidgetNames(config) {
  if (!hasPrimitiveControl(config)) return [VALUE_WIDGET_NAME];
  const names = [VALUE_WIDGET_NAME, CONTROL_WIDGET_NAME];
  return config.widget === "COMBO" ? [...names, FILTER_WIDGET_NAME] : names;
}

/** A value that fits `config`: numbers snapped and clamped, combos one of the choices. */
export function fitValue(value, config) {
  if (NUMBER_WIDGETS.includes(config.widget)) return normaliseNumber(value, config);
  if (config.widget === "COMBO") {
    const values = config.options.values ?? [];
    return values.includes(value) ? value : (values[0] ?? "");
  }
  if (config.widget === "BOOLEAN") return Boolean(value);
  if (config.widget === "STRING") return String(value ?? "");
  return value;
}

/**
 * Read a primitive's saved widgets_values (the ComfyUI layout).
 * @returns {{value: any, control: string, filter: string}} value undefined when none saved
 */
export function readPrimitiveValues(values) {
  const list = Array.isArray(values) ? values : [];
  return { value: list[0], control: typeof list[1] === "string" ? list[1] : DEFAULT_PRIMITIVE_CONTROL, filter: typeof list[2] === "string" ? list[2] : "" };
}

/** widgets_values of a primitive of `config` holding `state` (inverse of readPrimitiveValues). */
export function primitiveWidgetValues(config, { value, control = DEFAULT_PRIMITIVE_CONTROL, filter = "" }) {
  if (!hasPrimitiveControl(config)) return [value];
  return config.widget === "COMBO" ? [value, control, filter] : [value, control];
}

/**
 * The combo choices a primitive's control steps through: `filter` as a case-insensitive
 * substring, or as a regular expression when written /like this/flags. An invalid
 * expression or a filter nothing matches leaves all choices.
 */
export function filterChoices(values, filter) {
  const text = String(filter ?? "").trim();
  if (!text) return values;
  let test;
  const regex = /^\/(.*)\/([a-z]*)$/s.exec(text);
  if (regex) {
    try {
      const re = new RegExp(regex[1], regex[2]);
      test = (v) => re.test(String(v));
    } catch {
      return values;
    }
  } else {
    const lower = text.toLowerCase();
    test = (v) => String(v).toLowerCase().includes(lower);
  }
  const kept = values.filter(test);
  return kept.length ? kept : values;
}
