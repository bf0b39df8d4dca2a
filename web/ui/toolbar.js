/**
 * The top bar: Queue with a batch count (also Ctrl+Enter; Ctrl+Shift+Enter queues in
 * front), Interrupt, Save to the server (Ctrl+S), Open (JSON or PNG), Export of the UI
 * workflow and of the API prompt, Clear and the default graph.
 */
import { h } from "./dom.js";
import { defaultWorkflow } from "../graph/default_workflow.js";
import { openGraphFile } from "./file_open.js";
import { PREVIEW_METHOD_SETTING, PREVIEW_METHODS } from "../core/comfy_app.js";

function download(name, data) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function queueBatch(app, count, front) {
  for (let i = 0; i < count; i += 1) {
    if (!(await app.queuePrompt({ front }))) break;
  }
}

function exportButtons(app) {
  const name = () => app.store.state.tabs?.tabs.find((t) => t.id === app.store.state.tabs.activeId)?.name ?? "workflow";
  return [
    h("button", { id: "export-button", title: "Download the workflow JSON", onclick: () => download(`${name()}.json`, app.serializeWorkflow()) }, "Export"),
    h("button", { id: "export-api-button", title: "Download the API prompt", onclick: () => {
      try { download(`${name()}_api.json`, app.graphToPrompt().prompt); } catch (error) { app.notify(error.message); }
    } }, "Export API"),
  ];
}

/** The live preview choice, kept in the user's server-side settings like ComfyUI's frontend
 * ("default" = the server's --preview-method, which is "none" unless set). */
function previewSelect(app) {
  const select = h("select", { id: "preview-method", title: "Live preview method while sampling" },
    ...PREVIEW_METHODS.map((m) => h("option", { value: m }, `Preview: ${m}`)));
  app.previewMethod().then((method) => { select.value = method; });
  select.addEventListener("change", async () => {
    try {
      await app.api.storeSetting(PREVIEW_METHOD_SETTING, select.value);
    } catch (error) {
      app.notify(error.message);
    }
  });
  return select;
}

/** Build the toolbar into `root` and install the keyboard shortcuts. */
export function mountToolbar(root, app) {
  const picker = h("input", { type: "file", accept: ".json,.png,application/json,image/png", hidden: true,
    onchange: () => { if (picker.files[0]) openGraphFile(app, picker.files[0]); picker.value = ""; } });
  const batch = h("input", { id: "batch-count", type: "number", min: "1", max: "100", value: "1", title: "Batch count" });
  const count = () => Math.max(1, Math.min(100, Number.parseInt(batch.value, 10) || 1));
  root.append(
    h("span", { class: "brand" }, "comfy-core"),
    h("button", { class: "primary", id: "queue-button", title: "Queue the graph (Ctrl+Enter)",
      onclick: () => queueBatch(app, count(), false) }, "Queue"),
    batch,
    h("button", { id: "interrupt-button", title: "Stop the running prompt", onclick: () => app.api.interrupt() }, "Interrupt"),
    previewSelect(app),
    h("span", { class: "sep" }),
    h("button", { id: "save-button", title: "Save to the server (Ctrl+S)", onclick: () => app.workflows.save() }, "Save"),
    h("button", { id: "save-as-button", onclick: () => app.workflows.save({ saveAs: true }) }, "Save as"),
    h("button", { id: "load-button", title: "Open a workflow JSON or a PNG made by this app", onclick: () => picker.click() }, "Open"),
    ...exportButtons(app),
    h("span", { class: "sep" }),
    h("button", { id: "clear-button", onclick: () => { if (confirm("Clear the graph?")) app.loadWorkflow({ nodes: [], links: [] }, { quiet: true }); } }, "Clear"),
    h("button", { id: "default-button", onclick: () => app.loadWorkflow(defaultWorkflow(app.defs)) }, "Default graph"),
    picker,
  );
  window.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey)) return;
    if (e.key === "Enter") {
      e.preventDefault();
      queueBatch(app, count(), e.shiftKey);
    } else if (e.key.toLowerCase() === "s") {
      e.preventDefault();
      app.workflows.save();
    } else if (e.key.toLowerCase() === "o") {
      e.preventDefault();
      picker.click();
    }
  });
}
