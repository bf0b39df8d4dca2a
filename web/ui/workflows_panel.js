/** The saved workflows on the server (userdata "workflows/"): click to open, × to delete. */
import { h } from "./dom.js";
import { workflowName } from "../state/workflow_tabs.js";
import { latestAnswer } from "../api/latest_answer.js";

export function mountWorkflowsPanel(root, app) {
  const list = h("ul", { id: "saved-workflows" });
  root.append(h("h3", {}, "Saved workflows"), list);
  const row = (path) => h("li", { class: "saved-workflow", "data-path": path, title: `Open ${path}`,
    onclick: () => app.workflows.openSaved(path).catch((error) => app.notify(`Could not open ${path}: ${error.message}`)) },
  h("span", { class: "id" }, workflowName(path)),
  h("button", { class: "small", title: "Delete", onclick: async (e) => {
    e.stopPropagation();
    if (confirm(`Delete ${path}?`)) await app.workflows.deleteSaved(path);
  } }, "✕"));
  const reload = latestAnswer(() => app.workflows.listSaved(), (paths) =>
    list.replaceChildren(...(paths.length ? paths.map(row) : [h("li", { class: "empty" }, "none yet (Ctrl+S)")])));
  async function refresh() {
    try {
      await reload();
    } catch (error) {
      app.notify(`Could not list saved workflows: ${error.message}`);
    }
  }
  let version = app.store.state.savedWorkflowsVersion;
  app.store.subscribe((s) => {
    if (s.savedWorkflowsVersion !== version) refresh();
    version = s.savedWorkflowsVersion;
  });
  refresh();
}
