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
 * @typedef {{name: string, type: string, isList: boolean, tooltip: string|undefined}} OutputDef
 * @typedef {{name: string, displayName: string, category: string, description: string,
 *            inputs: InputDef[], hidden: string[], outputs: OutputDef[], outputNode: boolean,
 *            deprecated: boolean, experimental: boolean, pythonModule: string}} NodeDef
 */

/** Input types that become widgets without any frontend registration. */
export const BUILTIN_WIDGET_TYPES = Object.freeze(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);

const SECTIONS = ["required", "optional"];

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

/**
 * Build a NodeDef from the object_info entry `info` of class `name`.
 * @param {string} name class_type
 * @param {object} info the /object_info value for it
 * @param {{customWidgetTypes?: string[]}} [opts] widget types registered by extensions
 * @returns {NodeDef}
 */
export function normaliseNodeDef(name, info, opts = {}) {
  const custom = opts.customWidgetTypes ?? [];
  const inputs = [];
  for (const section of SECTIONS) {
    for (const inputName of inputOrder(info, section)) {
      const spec = info.input?.[section]?.[inputName];
      if (spec === undefined) continue;
      const { type, options } = parseInputSpec(spec);
      inputs.push({
        name: inputName, type, options, section,
        widget: widgetKind(type, options, custom), tooltip: options.tooltip,
      });
    }
  }
  const outputTypes = info.output ?? [];
  const outputs = outputTypes.map((type, i) => ({
    name: info.output_name?.[i] ?? String(type),
    type: Array.isArray(type) ? "COMBO" : String(type),
    isList: Boolean(info.output_is_list?.[i]),
    tooltip: info.output_tooltips?.[i] ?? undefined,
  }));
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
