/**
 * The top bar: Queue (also Ctrl+Enter; Ctrl+Shift+Enter queues in front), Interrupt,
 * Save and Load of workflow JSON, Clear and the default graph.
 */
import { h } from "./dom.js";
import { defaultWorkflow } from "../graph/default_workflow.js";

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function loadFile(app, file) {
  try {
    app.loadWorkflow(JSON.parse(await file.text()));
  } catch (error) {
    app.store.update({ promptError: { message: `Could not load ${file.name}`, details: error.message } });
  }
}

/** Build the toolbar into `root` and install the keyboard shortcuts and file drop. */
export function mountToolbar(root, app) {
  const picker = h("input", { type: "file", accept: ".json,application/json", hidden: true,
    onchange: () => { if (picker.files[0]) loadFile(app, picker.files[0]); picker.value = ""; } });
  const queue = h("button", { class: "primary", id: "queue-button", title: "Queue the graph (Ctrl+Enter)",
    onclick: () => app.queuePrompt() }, "Queue");
  root.append(
    h("span", { class: "brand" }, "comfy-core"),
    queue,
    h("button", { id: "interrupt-button", title: "Stop the running prompt", onclick: () => app.api.interrupt() }, "Interrupt"),
    h("span", { class: "sep" }),
    h("button", { id: "save-button", onclick: () => download("workflow.json", JSON.stringify(app.serializeWorkflow(), null, 2)) }, "Save"),
    h("button", { id: "load-button", onclick: () => picker.click() }, "Load"),
    h("button", { id: "clear-button", onclick: () => { if (confirm("Clear the graph?")) app.loadWorkflow({ nodes: [], links: [] }, { quiet: true }); } }, "Clear"),
    h("button", { id: "default-button", onclick: () => app.loadWorkflow(defaultWorkflow(app.defs)) }, "Default graph"),
    picker,
  );
  window.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      app.queuePrompt({ front: e.shiftKey });
    }
  });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    const file = e.dataTransfer?.files?.[0];
    if (file && (file.type === "application/json" || file.name.endsWith(".json"))) {
      e.preventDefault();
      loadFile(app, file);
    }
  });
}
