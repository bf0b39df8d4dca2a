/**
 * Normalise one /object_info entry (V1 or V3 shape, COMPAT 6) into a NodeDef the editor
 * reads everywhere, so no other module has to know the quirks of the wire format
 * (legacy combos as bare lists, "COMBO" with options, hidden inputs, missing input_order).
 *
 * Pure module: no DOM, no litegraph; unit-tested under node.
 *
 * @typedef {{name: string, type: string, options: object, section: string,
 *            widget: string|null, tooltip: string|undefined}} InputDef
 *   `type` is the slot type ("MODEL", "INT", "COMBO", ...); `widget` is the widget kind
 *   ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO" or a custom widget type) or null for a socket.
 *   ComfyUI's V3 dynamic inputs (COMPAT 6) keep their wire type out of `type`:
 *   - a dynamic combo (COMFY_DYNAMICCOMBO_V3) is a COMBO widget with `options.choices`
 *     {option: InputDef[]}, the inputs the option brings, named "<combo>.<input>";
 *   - a growing list (COMFY_AUTOGROW_V3) has `type` of its template and `options.autogrow`
 *     {template: InputDef, prefix|names, min, max}: sockets "<list>.<prefix><i>";
 *   - a type-following input (COMFY_MATCHTYPE_V3) has `type` = its allowed types ("*",
 *     "IMAGE,MASK") and `options.matchType` = its template id.
 * @typedef {{name: string, type: string, isList: boolean, tooltip: string|undefined,
 *            matchType?: string}} OutputDef
 *   An output of a type-following node has type "*" and the template id it follows.
 * @typedef {{name: string, displayName: string, category: string, description: string,
 *            inputs: InputDef[], hidden: string[], outputs: OutputDef[], outputNode: boolean,
 *            deprecated: boolean, experimental: boolean, pythonModule: string}} NodeDef
 */

/** Input types that become widgets without any frontend registration. */
export const BUILTIN_WIDGET_TYPES = Object.freeze(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);

const SECTIONS = ["required", "optional"];
export const DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3";
export const AUTOGROW = "COMFY_AUTOGROW_V3";
export const MATCHTYPE = "COMFY_MATCHTYPE_V3";
/** Sockets a growing list may reach when its definition names no maximum. */
const AUTOGROW_DEFAULT_MAX = 50;

/**
 * Split an input spec `[TYPE, opts?]` into a type name and options; legacy combos
 * (`[[choices], opts?]`) and V3 combos (`["COMBO", {options: [...]}]`) both become
 * type "COMBO" with `options.values` holding the choices.
 */
export function parseInputSpec(spec) {
  const raw = Array.isArray(spec) ? spec : [spec];
  const [head, opts] = raw;
  const options = opts && typeof opts === "object" ? { ...opts } : {};
  if (Array.isArray(head)) {
    return { type: "COMBO", options: { ...options, values: head.slice() } };
  }
  if (head === "COMBO") {
    const values = Array.isArray(options.options) ? options.options.slice() : [];
    return { type: "COMBO", options: { ...options, values } };
  }
  return { type: String(head), options };
}

/** Widget kind for a parsed input, or null when it is a plain socket. */
export function widgetKind(type, options, customWidgetTypes = []) {
  if (options.forceInput) return null;
  if (BUILTIN_WIDGET_TYPES.includes(type)) return type;
  if (customWidgetTypes.includes(type)) return type;
  return null;
}

function inputOrder(info, section) {
  const declared = info.input_order?.[section];
  if (Array.isArray(declared)) return declared;
  return Object.keys(info.input?.[section] ?? {});
}

/** InputDefs of `{required?, optional?}` spec sections, names prefixed by `prefix`. */
function sectionInputs(sections, prefix, custom, order = null) {
  const inputs = [];
  for (const section of SECTIONS) {
    const specs = sections?.[section] ?? {};
    for (const name of order?.[section] ?? Object.keys(specs)) {
      if (specs[name] !== undefined) inputs.push(makeInput(prefix + name, specs[name], section, custom));
    }
  }
  return inputs;
}

function autogrowInput(name, options, section, custom) {
  const template = options.template ?? {};
  const [inner] = sectionInputs(template.input, "", custom);
  const names = Array.isArray(template.names) ? template.names.map(String) : null;
  const autogrow = {
    template: inner ?? { name: "", type: "*", options: {}, section: "optional", widget: null },
    prefix: String(template.prefix ?? inner?.name ?? ""), names,
    min: Number(template.min ?? 1), max: names ? names.length : Number(template.max ?? AUTOGROW_DEFAULT_MAX),
  };
  const opts = { ...options, autogrow };
  return { name, type: autogrow.template.type, options: opts, section, widget: null, tooltip: options.tooltip };
}

function makeInput(name, spec, section, custom) {
  const { type, options } = parseInputSpec(spec);
  if (type === DYNAMIC_COMBO) {
    const entries = (options.options ?? []).filter((o) => o && typeof o === "object" && "key" in o);
    const choices = Object.fromEntries(entries.map((o) => [o.key, sectionInputs(o.inputs, `${name}.`, custom)]));
    const opts = { ...options, values: entries.map((o) => o.key), choices };
    return { name, type, options: opts, section, widget: "COMBO", tooltip: options.tooltip };
  }
  if (type === AUTOGROW) return autogrowInput(name, options, section, custom);
  if (type === MATCHTYPE) {
    const template = options.template ?? {};
    const opts = { ...options, matchType: String(template.template_id ?? name) };
    return { name, type: String(template.allowed_types ?? "*"), options: opts, section, widget: null, tooltip: options.tooltip };
  }
  return { name, type, options, section, widget: widgetKind(type, options, custom), tooltip: options.tooltip };
}

/**
 * The sockets of growing list `input` when it shows `count` of them: the first `min` are
 * required, the others optional, each typed like the template.
 * @returns {InputDef[]}
 */
export function autogrowInputs(input, count) {
  const { template, prefix, names, min, max } = input.options.autogrow;
  const total = Math.min(count, max);
  return Array.from({ length: total }, (_, i) => ({
    ...template, name: `${input.name}.${names ? names[i] : prefix + i}`,
    section: i < min ? "required" : "optional", options: { ...template.options },
  }));
}

/** Position of socket `name` in growing list `input`, or -1 when it is not one of its. */
export function autogrowIndex(input, name) {
  const { prefix, names, max } = input.options.autogrow;
  const head = `${input.name}.`;
  if (!name.startsWith(head)) return -1;
  const rest = name.slice(head.length);
  if (names) return names.indexOf(rest);
  const match = rest.startsWith(prefix) ? /^\d+$/.exec(rest.slice(prefix.length)) : null;
  const index = match ? Number(match[0]) : -1;
  return index < max ? index : -1;
}

/**
 * The InputDef behind input name `name` of `def`: a declared input, an input that an option
 * of a dynamic combo brings (any option), or a socket of a growing list.
 * @returns {InputDef|null}
 */
export function findInput(def, name) {
  const search = (inputs) => {
    for (const input of inputs ?? []) {
      if (input.name === name) return input;
      if (input.options.autogrow) {
        const index = autogrowIndex(input, name);
        if (index >= 0) return autogrowInputs(input, index + 1)[index];
      }
      if (input.options.choices && name.startsWith(`${input.name}.`)) {
        for (const inputs of Object.values(input.options.choices)) {
          const found = search(inputs);
          if (found) return found;
        }
      }
    }
    return null;
  };
  return search(def?.inputs);
}

/**
 * Build a NodeDef from the object_info entry `info` of class `name`.
 * @param {string} name class_type
 * @param {object} info the /object_info value for it
 * @param {{customWidgetTypes?: string[]}} [opts] widget types registered by extensions
 * @returns {NodeDef}
 */
export function normaliseNodeDef(name, info, opts = {}) {
  const custom = opts.customWidgetTypes ?? [];
  const order = Object.fromEntries(SECTIONS.map((section) => [section, inputOrder(info, section)]));
  const inputs = sectionInputs(info.input, "", custom, order);
  const outputTypes = info.output ?? [];
  const outputs = outputTypes.map((type, i) => {
    const output = {
      name: info.output_name?.[i] ?? String(type),
      type: Array.isArray(type) ? "COMBO" : String(type),
      isList: Boolean(info.output_is_list?.[i]),
      tooltip: info.output_tooltips?.[i] ?? undefined,
    };
    if (output.type === MATCHTYPE) Object.assign(output, { type: "*", matchType: String(info.output_matchtypes?.[i] ?? "") });
    return output;
  });
  return {
    name,
    displayName: info.display_name || name,
    category: info.category || "sd",
    description: info.description || "",
    inputs,
    hidden: inputOrder(info, "hidden"),
    outputs,
    outputNode: Boolean(info.output_node),
    deprecated: Boolean(info.deprecated),
    experimental: Boolean(info.experimental),
    pythonModule: info.python_module || "nodes",
  };
}

/** Normalise a whole /object_info answer into `{class_type: NodeDef}`. */
export function normaliseObjectInfo(objectInfo, opts = {}) {
  const defs = {};
  for (const [name, info] of Object.entries(objectInfo ?? {})) {
    defs[name] = normaliseNodeDef(name, info, opts);
  }
  return defs;
}

/**
 * Whether a value of type `outType` may feed an input of type `inType`: equal names,
 * the wildcard "*", or overlapping comma unions ("FLOAT,INT").
 */
export function typesCompatible(outType, inType) {
  const a = String(outType ?? "*");
  const b = String(inType ?? "*");
  if (a === "*" || b === "*" || a === "" || b === "") return true;
  if (a === b) return true;
  const left = a.split(",").map((s) => s.trim());
  const right = new Set(b.split(",").map((s) => s.trim()));
  return left.some((t) => right.has(t));
}
