/**
 * The positional `widgets_values` of a UI node (COMPAT 3.3): which entry belongs to which
 * input, the extra non-input entries (seed control, upload button), numeric rounding and
 * the value controls run after queueing. Pure; unit-tested against a recorded object_info.
 *
 * @typedef {{name: string, kind: "input"|"control"|"upload"|"autorefresh"|"refresh",
 *            input: import("./node_defs.js").InputDef|null, defaultValue: any}} WidgetSlot
 *   A combo whose choices come from a server route (`remote`) is followed by ComfyUI's
 *   auto-refresh toggle ("autorefresh", editor-only) and, with `refresh_button`, by the
 *   refresh button ("refresh"), whose value the frontend sends with the inputs under the
 *   button's name ("refresh", then "refresh#1", ...).
 */

/** Seed/value control modes (COMPAT 3.3); combos also allow "increment-wrap". */
export const CONTROL_MODES = Object.freeze(["fixed", "increment", "decrement", "randomize"]);
export const COMBO_CONTROL_MODES = Object.freeze([...CONTROL_MODES, "increment-wrap"]);
/** Name the frontend gives the control widget; never sent to the server. */
export const CONTROL_WIDGET_NAME = "control_after_generate";
export const UPLOAD_WIDGET_NAME = "upload";
export const AUTO_REFRESH_WIDGET_NAME = "Auto-refresh after generation";
export const REFRESH_WIDGET_NAME = "refresh";
const SEED_NAMES = ["seed", "noise_seed"];
/** Randomised seeds stay below 2^50 so they survive JSON doubles exactly. */
const RANDOM_MAX = 2 ** 50;

/** Whether an input gets a control widget after it. */
export function hasControl(input) {
  const flag = input.options.control_after_generate;
  if (flag) return input.widget === "INT" || input.widget === "COMBO";
  return input.widget === "INT" && SEED_NAMES.includes(input.name);
}

function controlDefault(input) {
  const flag = input.options.control_after_generate;
  return typeof flag === "string" && COMBO_CONTROL_MODES.includes(flag) ? flag : "randomize";
}

/** Default value of a widget input: its `default` option, else the first choice or zero. */
export function defaultValue(input) {
  const { options } = input;
  if (options.default !== undefined) return options.default;
  switch (input.widget) {
    case "COMBO": return options.values?.[0] ?? "";
    case "INT": case "FLOAT": return Math.max(0, options.min ?? 0);
    case "BOOLEAN": return false;
    default: return "";
  }
}

/**
 * The widget slots of one input: its value, then its control entry (seed-like inputs) or
 * upload button (image combos). Empty for plain sockets.
 * @param {import("./node_defs.js").InputDef} input
 * @param {boolean} [includeForceInput] count a forceInput widget too (legacy files)
 * @returns {WidgetSlot[]}
 */
export function inputWidgetSlots(input, includeForceInput = false) {
  const forced = includeForceInput && input.options.forceInput &&
    ["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"].includes(input.type);
  if (!input.widget && !forced) return [];
  const slots = [{ name: input.name, kind: "input", input, defaultValue: defaultValue(input) }];
  if (hasControl(input)) {
    slots.push({ name: CONTROL_WIDGET_NAME, kind: "control", input, defaultValue: controlDefault(input) });
  }
  if (input.widget === "COMBO" && input.options.remote) {
    slots.push({ name: AUTO_REFRESH_WIDGET_NAME, kind: "autorefresh", input, defaultValue: false });
    if (input.options.remote.refresh_button) {
      slots.push({ name: REFRESH_WIDGET_NAME, kind: "refresh", input, defaultValue: REFRESH_WIDGET_NAME });
    }
  }
  if (input.widget === "COMBO" && input.options.image_upload) {
    slots.push({ name: UPLOAD_WIDGET_NAME, kind: "upload", input, defaultValue: "image" });
  }
  return slots;
}

/** Name repeated refresh buttons as litegraph names repeated widgets: "refresh#1", ... */
function nameRefreshButtons(slots, from) {
  let count = slots.slice(0, from).filter((slot) => slot.kind === "refresh").length;
  for (const slot of slots.slice(from)) {
    if (slot.kind !== "refresh") continue;
    if (count) slot.name = `${REFRESH_WIDGET_NAME}#${count}`;
    count += 1;
  }
}

/** The saved value of widget `name` at position `index` of `values` (an array or a map). */
function savedValue(values, name, index) {
  if (Array.isArray(values)) return index < values.length ? values[index] : undefined;
  return values && typeof values === "object" ? values[name] : undefined;
}

/**
 * The inputs option `key` of dynamic combo `input` brings (the default option's when `key`
 * is not one of its options).
 * @returns {import("./node_defs.js").InputDef[]}
 */
export function dynamicChoice(input, key) {
  const { choices } = input.options;
  const chosen = Object.hasOwn(choices, key) ? key : defaultValue(input);
  return choices[chosen] ?? [];
}

function addSlots(inputs, opts, slots) {
  for (const input of inputs) {
    const index = slots.length;
    slots.push(...inputWidgetSlots(input, opts.includeForceInput));
    nameRefreshButtons(slots, index);
    if (input.widget && input.options.choices) {
      addSlots(dynamicChoice(input, savedValue(opts.values, input.name, index)), opts, slots);
    }
  }
}

/**
 * The ordered widget slots of a node: one per widget input (required then optional), each
 * seed-like input followed by its control entry, each upload combo by its button entry, each
 * dynamic combo by the widgets of its chosen option (from `values`, else its default).
 * @param {import("./node_defs.js").NodeDef} def
 * @param {{includeForceInput?: boolean, values?: any[]|Object<string, any>}} [opts]
 *   includeForceInput: count forceInput widgets too (legacy files); values: the saved
 *   widgets_values (array) or input values (by name) that pick the dynamic combos' options
 * @returns {WidgetSlot[]}
 */
export function widgetLayout(def, opts = {}) {
  const slots = [];
  addSlots(def.inputs, opts, slots);
  return slots;
}

/**
 * Pick the layout that matches a saved `widgets_values` array: legacy workflows may carry
 * entries for forceInput inputs, which the current layout does not have.
 */
export function layoutForValues(def, values) {
  const normal = widgetLayout(def, { values });
  if (!Array.isArray(values) || values.length === normal.length) return normal;
  const legacy = widgetLayout(def, { includeForceInput: true, values });
  return legacy.length === values.length ? legacy : normal;
}

/**
 * Map saved widgets_values onto input names. Widgets the file holds no value for (inputs
 * added after it was saved) take their defaults, as a freshly built widget would.
 * @returns {{values: Object<string, any>, controls: Object<string, string>,
 *            inputs: Object<string, import("./node_defs.js").InputDef>}} input values
 *   (forceInput entries of legacy files dropped), control modes and the InputDef of each
 *   value, keyed by input name.
 */
export function widgetValuesToInputs(def, widgetsValues) {
  const values = {};
  const controls = {};
  const inputs = {};
  const layout = layoutForValues(def, widgetsValues ?? []);
  for (const slot of layout) {
    if (slot.kind === "input" && slot.input.widget) {
      values[slot.name] = slot.defaultValue;
      inputs[slot.name] = slot.input;
    } else if (slot.kind === "refresh") {
      values[slot.name] = slot.defaultValue;
    }
  }
  if (widgetsValues && !Array.isArray(widgetsValues) && typeof widgetsValues === "object") {
    for (const name of Object.keys(values)) {
      if (name in widgetsValues) values[name] = widgetsValues[name];
    }
    return { values, controls, inputs };
  }
  const list = widgetsValues ?? [];
  layout.forEach((slot, i) => {
    if (i >= list.length) return;
    if (slot.kind === "control") controls[slot.input.name] = list[i];
    else if ((slot.kind === "input" && slot.input.widget) || slot.kind === "refresh") values[slot.name] = list[i];
  });
  return { values, controls, inputs };
}

/**
 * Build widgets_values from input values (missing ones take their defaults; a dynamic
 * combo's value picks the widgets that follow it).
 * @param {Object<string, any>} values input name -> value
 * @param {Object<string, string>} [controls] input name -> control mode
 */
export function inputsToWidgetValues(def, values, controls = {}) {
  return widgetLayout(def, { values }).map((slot) => {
    if (slot.kind === "control") return controls[slot.input.name] ?? slot.defaultValue;
    if (slot.kind === "upload" || slot.kind === "autorefresh") return slot.defaultValue;
    return slot.name in values ? values[slot.name] : slot.defaultValue;
  });
}

function decimalsOf(x) {
  const text = String(x);
  if (text.includes("e-")) return Number(text.split("e-")[1]);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** Decimal places a FLOAT widget shows: from `round`, else from `step` (COMPAT 5.1). */
export function floatPrecision(options) {
  const r = options.round;
  if (typeof r === "number" && r > 0) return decimalsOf(r);
  return decimalsOf(options.step ?? 0.01);
}

function clamp(value, options) {
  let v = value;
  if (typeof options.min === "number") v = Math.max(options.min, v);
  if (typeof options.max === "number") v = Math.min(options.max, v);
  return v;
}

/**
 * Normalise a number typed or dragged into an INT/FLOAT widget: non-numbers fall back to
 * the default, INT snaps to its step, FLOAT rounds to `round` (default: the step; `false`
 * disables), then both clamp to [min, max].
 */
export function normaliseNumber(value, input) {
  const { options } = input;
  let v = typeof value === "number" ? value : Number.parseFloat(value);
  if (!Number.isFinite(v)) return defaultValue(input);
  if (input.widget === "INT" || input.type === "INT") {
    const step = options.step && options.step > 0 ? options.step : 1;
    v = step === 1 ? Math.round(v) : Math.round(v / step) * step;
    return clamp(v, options);
  }
  const round = options.round === false ? 0 : (options.round ?? options.step ?? 0);
  if (round > 0) {
    v = Math.round(v / round) * round;
    v = Number(v.toFixed(decimalsOf(round)));
  }
  return clamp(v, options);
}

function nextNumber(value, mode, options, random) {
  const step = options.step && options.step > 0 ? options.step : 1;
  const min = options.min ?? 0;
  const max = Math.min(options.max ?? RANDOM_MAX, RANDOM_MAX);
  switch (mode) {
    case "increment": return Math.min(value + step, options.max ?? Infinity);
    case "decrement": return Math.max(value - step, options.min ?? -Infinity);
    case "randomize": {
      const range = Math.floor((max - min) / step);
      return Math.floor(random() * (range + 1)) * step + min;
    }
    default: return value;
  }
}

function nextChoice(value, mode, values, random) {
  if (!values.length) return value;
  const i = Math.max(0, values.indexOf(value));
  switch (mode) {
    case "increment": return values[Math.min(i + 1, values.length - 1)];
    case "increment-wrap": return values[(i + 1) % values.length];
    case "decrement": return values[Math.max(i - 1, 0)];
    case "randomize": return values[Math.floor(random() * values.length)];
    default: return value;
  }
}

/**
 * The value a controlled widget takes after a queue (COMPAT 3.3): "fixed" keeps it,
 * increment/decrement move one step (clamped), "randomize" draws uniformly on the step grid
 * with max clamped to 2^50. `random` returns [0, 1) and is injectable for tests.
 */
export function nextControlValue(value, mode, input, random = Math.random) {
  if (input.widget === "COMBO") return nextChoice(value, mode, input.options.values ?? [], random);
  return nextNumber(value, mode, input.options, random);
}
