/**
 * A dismissable panel for errors: a refused prompt (error and per-node messages) and
 * execution errors (node, exception, traceback), each shown once when it arrives.
 */
import { h } from "./dom.js";

function promptErrorBody(s) {
  const err = s.promptError;
  const lines = Object.entries(s.nodeErrors).map(([id, messages]) => h("li", {}, `#${id}: ${messages.join("; ")}`));
  return [h("h4", {}, err.message ?? "Prompt refused"), err.details ? h("pre", {}, err.details) : null, h("ul", {}, lines)];
}

function executionErrorBody(err) {
  return [
    h("h4", {}, `Error in #${err.node_id} ${err.node_type ?? ""}`),
    h("p", {}, `${err.exception_type}: ${err.exception_message}`),
    err.traceback?.length ? h("details", {}, h("summary", {}, "Traceback"), h("pre", {}, err.traceback.join(""))) : null,
  ];
}

export function mountErrorDialog(root, app) {
  const body = h("div", { class: "body" });
  root.append(h("button", { class: "small close", onclick: () => { root.hidden = true; } }, "✕"), body);
  root.hidden = true;
  let shownPrompt = null;
  let shownExec = null;
  app.store.subscribe((s) => {
    if (s.promptError && s.promptError !== shownPrompt) {
      shownPrompt = s.promptError;
      body.replaceChildren(...promptErrorBody(s).filter(Boolean));
      root.hidden = false;
    } else if (s.execution.error && s.execution.error !== shownExec) {
      shownExec = s.execution.error;
      body.replaceChildren(...executionErrorBody(s.execution.error).filter(Boolean));
      root.hidden = false;
    }
  });
}
