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
