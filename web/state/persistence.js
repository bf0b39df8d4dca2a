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

/**
 * Writes the workflow and the tabs when their JSON differs from what it last wrote. It compares
 * the text rather than the graph's version counter, because a node resized to show its image,
 * a widget stepped by "control after generate" or a tab's own state change what a reload
 * restores without bumping that counter.
 */
export class Autosaver {
  constructor(storage, logger = console) {
    this.storage = storage;
    this.logger = logger;
    this.written = new Map();
  }

  /** Store both; returns false (and logs) when storage is full or unavailable. */
  save(workflow, tabs) {
    const stored = this._write(WORKFLOW_KEY, workflow, "the workflow");
    return this._write(TABS_KEY, tabs, "the open workflows") && stored;
  }

  _write(key, value, what) {
    const text = JSON.stringify(value);
    if (this.written.get(key) === text) return true;
    try {
      this.storage.setItem(key, text);
      this.written.set(key, text);
      return true;
    } catch (error) {
      this.logger.warn(`could not save ${what} to localStorage: ${error.message}`);
      return false;
    }
  }
}
