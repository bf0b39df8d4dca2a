/**
 * `%date:yyyy-MM-dd%` and `%NodeTitle.widget%` in filename_prefix, expanded at queue time
 * as the ComfyUI frontend does (COMPAT 3.4, last line): the server only fills its own
 * `%width%`-style fields. Works on the API prompt, so it is pure and unit-tested.
 */

const PATTERN = /%([^%]+)%/g;
/** Characters a widget value may not bring into a file name. */
const UNSAFE = /[/?<>\\:*|"]/g;
const DATE_TOKENS = /yyyy|yy|MM|M|dd|d|hh|h|mm|m|ss|s/g;
/** Inputs whose text is expanded. */
export const EXPANDED_INPUTS = Object.freeze(["filename_prefix"]);

/** Format `date` with yyyy, yy, MM, M, dd, d, hh, h, mm, m, ss, s (doubled = zero-padded). */
export function formatDate(format, date) {
  const parts = { y: date.getFullYear(), M: date.getMonth() + 1, d: date.getDate(),
    h: date.getHours(), m: date.getMinutes(), s: date.getSeconds() };
  return format.replace(DATE_TOKENS, (token) => {
    if (token === "yyyy") return String(parts.y);
    if (token === "yy") return String(parts.y).slice(-2);
    const value = parts[token[0]];
    return token.length === 2 ? String(value).padStart(2, "0") : String(value);
  });
}

function isLink(value) {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string";
}

/** The value of input `widget` on the node titled (or typed) `title`, or undefined. */
function lookup(prompt, title, widget) {
  const entries = Object.values(prompt);
  const node = entries.find((e) => e._meta?.title === title) ?? entries.find((e) => e.class_type === title);
  const value = node?.inputs?.[widget];
  return value === undefined || isLink(value) || (value && typeof value === "object") ? undefined : value;
}

/**
 * Expand `%date:FORMAT%` and `%Title.widget%` in `text`; unknown references stay as written.
 * @param {string} text
 * @param {object} prompt the API prompt (titles in `_meta.title`)
 * @param {Date} [now]
 */
export function applyTextReplacements(text, prompt, now = new Date()) {
  return text.replace(PATTERN, (match, body) => {
    if (body.startsWith("date:")) return formatDate(body.slice(5), now);
    const dot = body.lastIndexOf(".");
    if (dot <= 0) return match;
    const value = lookup(prompt, body.slice(0, dot), body.slice(dot + 1));
    return value === undefined ? match : String(value).replace(UNSAFE, "_");
  });
}

/** Expand EXPANDED_INPUTS of every prompt entry in place; returns the prompt. */
export function expandPromptText(prompt, now = new Date()) {
  const source = structuredClone(prompt);
  for (const entry of Object.values(prompt)) {
    for (const name of EXPANDED_INPUTS) {
      const value = entry.inputs?.[name];
      if (typeof value === "string" && value.includes("%")) entry.inputs[name] = applyTextReplacements(value, source, now);
    }
  }
  return prompt;
}
