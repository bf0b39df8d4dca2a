/**
 * Open workflows in tabs and saved workflows on the server (userdata routes,
 * "workflows/<name>.json"). The tab state is pure data (state/workflow_tabs.js) kept in
 * the app store; this class moves graphs between it, the canvas and the server.
 */
import { initialTabs, activeTab, addTab, switchTab, closeTab, updateActive, storeActive, workflowPath, workflowName } from "../state/workflow_tabs.js";
import { defaultWorkflow } from "../graph/default_workflow.js";

export class WorkflowManager {
  /** @param {import("./comfy_app.js").ComfyApp} app */
  constructor(app) {
    this.app = app;
  }

  get state() {
    return this.app.store.state.tabs;
  }

  _set(tabs) {
    this.app.store.update({ tabs });
  }

  /** Start from saved tabs (their active workflow is already on the canvas) or one tab. */
  init(saved) {
    this._set(saved ?? initialTabs(null));
  }

  /** The tabs with the canvas stored into the active one (for persistence). */
  snapshot() {
    return storeActive(this.state, this.app.serializeWorkflow());
  }

  /** Open `json` (UI workflow or API prompt) in a new tab. */
  open(json, { name = "Unsaved workflow", path = null } = {}) {
    const current = this.app.serializeWorkflow();
    this.app.loadWorkflow(json);
    this._set(addTab(this.state, current, { name, path, workflow: null }));
  }

  /** A new tab with the default graph. */
  openNew() {
    this.open(defaultWorkflow(this.app.defs), { name: "Unsaved workflow" });
  }

  switchTo(id) {
    if (id === this.state.activeId) return;
    const next = switchTab(this.state, this.app.serializeWorkflow(), id);
    this.app.loadWorkflow(activeTab(next).workflow ?? { nodes: [], links: [] }, { quiet: true });
    this._set(next);
  }

  close(id) {
    const wasActive = id === this.state.activeId;
    const next = closeTab(this.state, this.app.serializeWorkflow(), id, defaultWorkflow(this.app.defs));
    if (wasActive) this.app.loadWorkflow(activeTab(next).workflow, { quiet: true });
    this._set(next);
  }

  /**
   * Save the active tab to the server; asks for a name when it has none (or `saveAs`).
   * @returns {Promise<string|null>} the userdata path, or null when cancelled or failed
   */
  async save({ saveAs = false, name } = {}) {
    const tab = activeTab(this.state);
    const chosen = name ?? (tab.path && !saveAs ? tab.name : window.prompt("Save workflow as:", tab.name));
    if (chosen === null || chosen === undefined) return null;
    try {
      const path = workflowPath(chosen);
      await this.app.api.storeUserData(path, this.app.serializeWorkflow());
      this._set(updateActive(this.state, { name: workflowName(path), path }));
      this.app.notify(`Saved ${path}`);
      this.app.store.update({ savedWorkflowsVersion: Date.now() });
      return path;
    } catch (error) {
      this.app.notify(`Could not save: ${error.message}`);
      return null;
    }
  }

  /** The saved workflows' userdata paths, sorted. */
  async listSaved() {
    const names = await this.app.api.listUserData("workflows");
    return names.filter((n) => n.endsWith(".json")).sort().map((n) => `workflows/${n}`);
  }

  /** Open a saved workflow (switching to its tab when it is open already). */
  async openSaved(path) {
    const open = this.state.tabs.find((t) => t.path === path);
    if (open) {
      this.switchTo(open.id);
      return;
    }
    this.open(await this.app.api.getUserData(path), { name: workflowName(path), path });
  }

  async deleteSaved(path) {
    await this.app.api.deleteUserData(path);
    this.app.store.update({ savedWorkflowsVersion: Date.now() });
  }
}
