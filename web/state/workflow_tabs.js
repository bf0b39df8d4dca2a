/**
 * Open workflows as tabs, as plain data: `{tabs: [{id, name, path, workflow}], activeId,
 * nextId}`. The active tab's `workflow` is refreshed from the canvas before any switch, so
 * each tab keeps its own graph. Pure; every function returns a new state. Unit-tested.
 *
 * @typedef {{id: number, name: string, path: string|null, workflow: object|null}} Tab
 * @typedef {{tabs: Tab[], activeId: number, nextId: number}} TabsState
 */

const WORKFLOW_DIR = "workflows/";

/** Tabs with one tab holding `workflow`. */
export function initialTabs(workflow, name = "Unsaved workflow") {
  return { tabs: [{ id: 1, name, path: null, workflow }], activeId: 1, nextId: 2 };
}

export function activeTab(state) {
  return state.tabs.find((t) => t.id === state.activeId);
}

/** Store `workflow` (the canvas now) into the active tab. */
export function storeActive(state, workflow) {
  return { ...state, tabs: state.tabs.map((t) => (t.id === state.activeId ? { ...t, workflow } : t)) };
}

/** Change fields of the active tab (name, path). */
export function updateActive(state, patch) {
  return { ...state, tabs: state.tabs.map((t) => (t.id === state.activeId ? { ...t, ...patch } : t)) };
}

/** Add a tab and make it active; `current` is the canvas workflow of the tab left behind. */
export function addTab(state, current, { name, path = null, workflow }) {
  const stored = storeActive(state, current);
  const tab = { id: state.nextId, name, path, workflow };
  return { tabs: [...stored.tabs, tab], activeId: tab.id, nextId: state.nextId + 1 };
}

/** Activate tab `id`, keeping `current` in the tab left behind. */
export function switchTab(state, current, id) {
  if (!state.tabs.some((t) => t.id === id)) throw new Error(`no open workflow tab with id ${id}`);
  if (id === state.activeId) return state;
  return { ...storeActive(state, current), activeId: id };
}

/**
 * Close tab `id`. Closing the active tab activates its right neighbour (else the left);
 * closing the last tab leaves one fresh tab holding `emptyWorkflow`.
 */
export function closeTab(state, current, id, emptyWorkflow) {
  const index = state.tabs.findIndex((t) => t.id === id);
  if (index < 0) return state;
  const stored = storeActive(state, current);
  const tabs = stored.tabs.filter((t) => t.id !== id);
  if (!tabs.length) {
    const fresh = { id: state.nextId, name: "Unsaved workflow", path: null, workflow: emptyWorkflow };
    return { tabs: [fresh], activeId: fresh.id, nextId: state.nextId + 1 };
  }
  const activeId = id === state.activeId ? tabs[Math.min(index, tabs.length - 1)].id : state.activeId;
  return { ...stored, tabs, activeId };
}

/**
 * The userdata path of a saved workflow called `name` ("workflows/<name>.json").
 * @throws {Error} when the name is empty or has path characters
 */
export function workflowPath(name) {
  const clean = String(name ?? "").trim().replace(/\.json$/i, "");
  if (!clean) throw new Error("a workflow needs a name");
  if (/[\\/:*?"<>|]|^\.|\.\./.test(clean)) throw new Error(`'${clean}' is not a valid workflow name (no / \\ : * ? " < > | or leading dot)`);
  return `${WORKFLOW_DIR}${clean}.json`;
}

/** Display name of a saved workflow path ("workflows/a b.json" -> "a b"). */
export function workflowName(path) {
  return path.replace(/^workflows\//, "").replace(/\.json$/i, "");
}
