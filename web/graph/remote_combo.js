/**
 * Combos whose choices come from a server route (`remote` in the input's options), as
 * ComfyUI's frontend fills them: the route answers a JSON list of choices (/internal/files/
 * {input|output|temp} answers annotated paths, "name [output]", which the loaders resolve in
 * that folder); a fresh widget takes the first choice, a saved value is kept; after the
 * refresh button (or an auto-refresh) `control_after_refresh` picks the first or last
 * choice. Pure; extensions/core/remote_combo.js does the fetching.
 */

/**
 * The combo choices of a remote route's answer: its strings (anything else is dropped).
 * @param {any} data the route's JSON answer
 * @returns {string[]}
 */
export function remoteChoices(data) {
  return Array.isArray(data) ? data.filter((item) => typeof item === "string") : [];
}

/**
 * The value a remote combo holds once its choices arrived.
 * @param {any} current the widget's value ("" on a fresh widget)
 * @param {string[]} choices
 * @param {{refreshed?: boolean, mode?: string}} opts refreshed: after a refresh, when
 *   `mode` (control_after_refresh: "first" or "last") picks a choice
 */
export function valueAfterFetch(current, choices, opts = {}) {
  if (!choices.length) return current;
  if (opts.refreshed && opts.mode === "first") return choices[0];
  if (opts.refreshed && opts.mode === "last") return choices.at(-1);
  return current === "" || current == null ? choices[0] : current;
}
