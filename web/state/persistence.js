/**
 * Keep the graph across reloads: the current workflow JSON in localStorage, written when it
 * changed and read on start. Storage is injected; a broken entry is reported, not thrown.
 */
export const WORKFLOW_KEY = "comfy.workflow";

/**
 * The saved workflow, or null when none is stored or it does not parse.
 * @param {Storage} storage
 * @param {{warn: Function}} [logger]
 */
export function loadSavedWorkflow(storage, logger = console) {
  const text = storage?.getItem(WORKFLOW_KEY);
  if (!text) return null;
  try {
    const json = JSON.parse(text);
    return json && typeof json === "object" ? json : null;
  } catch (error) {
    logger.warn(`ignoring the saved workflow in localStorage: ${error.message}`);
    return null;
  }
}

/** Store `workflow`; returns false (and logs) when storage is full or unavailable. */
export function saveWorkflow(storage, workflow, logger = console) {
  try {
    storage.setItem(WORKFLOW_KEY, JSON.stringify(workflow));
    return true;
  } catch (error) {
    logger.warn(`could not save the workflow to localStorage: ${error.message}`);
    return false;
  }
}

export const TABS_KEY = "comfy.tabs";

/** The saved open-workflow tabs (state/workflow_tabs.js shape), or null. */
export function loadSavedTabs(storage, logger = console) {
  const text = storage?.getItem(TABS_KEY);
  if (!text) return null;
  try {
    const state = JSON.parse(text);
    const valid = Array.isArray(state?.tabs) && state.tabs.length && state.tabs.some((t) => t.id === state.activeId);
    return valid ? state : null;
  } catch (error) {
    logger.warn(`ignoring the saved tabs in localStorage: ${error.message}`);
    return null;
  }
}

/** Store the tabs; returns false (and logs) when storage is full or unavailable. */
export function saveTabs(storage, state, logger = console) {
  try {
    storage.setItem(TABS_KEY, JSON.stringify(state));
    return true;
  } catch (error) {
    logger.warn(`could not save the open workflows to localStorage: ${error.message}`);
    return false;
  }
}
