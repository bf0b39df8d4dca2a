/**
 * Dynamic prompts for STRING widgets flagged `dynamicPrompts` (COMPAT 3.4 step 4): comments
 * are removed, then every `{a|b|c}` is replaced by one option chosen at random (nesting
 * allowed, choices made left to right, the end of the text closes a brace left open).
 * `\{`, `\}` and `\|` become the plain characters; other backslash escapes (`\(`) stay for
 * the server. As ComfyUI's frontend 1.58.1 does (tests/fixtures/frontend). Pure; `random`
 * is injectable for tests.
 */

const COMMENTS = /\/\*[\s\S]*?\*\/|\/\/.*/g;
const CHOICE_CHARS = "{}|";

/** Remove C-style block comments and `//` line comments. */
export function stripComments(text) {
  return text.replace(COMMENTS, "");
}

/**
 * Expand the choices of `text` starting at `start` until the closing brace of the current
 * depth (or the end), returning the chosen text and where scanning stopped.
 */
function expand(text, start, random, nested) {
  const options = [""];
  let i = start;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length) {
      options[options.length - 1] += CHOICE_CHARS.includes(text[i + 1]) ? text[i + 1] : ch + text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "{") {
      const inner = expand(text, i + 1, random, true);
      options[options.length - 1] += inner.text;
      i = inner.end;
      continue;
    }
    if (nested && ch === "|") {
      options.push("");
      i += 1;
      continue;
    }
    if (nested && ch === "}") {
      return { text: options[Math.floor(random() * options.length)], end: i + 1 };
    }
    options[options.length - 1] += ch;
    i += 1;
  }
  if (!nested) return { text: options[0], end: i };
  // The end of the text closes every brace still open.
  return { text: options[Math.floor(random() * options.length)], end: i };
}

/**
 * Process a dynamic prompt: strip comments, then resolve `{a|b}` choices.
 * @param {string} text
 * @param {() => number} [random] returns [0, 1)
 * @returns {string}
 */
export function processDynamicPrompt(text, random = Math.random) {
  return expand(stripComments(String(text)), 0, random, false).text;
}
