/**
 * Undo/redo as plain data: a history is `{past, present, future, limit}` of snapshots
 * (serialised workflow strings), and every operation returns a new history. Recording a
 * snapshot equal to the present is a no-op, so callers may record after any input event.
 * Pure; unit-tested.
 *
 * @typedef {{past: string[], present: string|null, future: string[], limit: number}} History
 */

export const DEFAULT_LIMIT = 50;

/** A history whose only state is `present`. */
export function startHistory(present, limit = DEFAULT_LIMIT) {
  if (!(limit >= 1)) throw new Error(`history limit must be at least 1, got ${limit}`);
  return { past: [], present, future: [], limit };
}

/** Record `state` as the new present (a new edit clears the redo list). */
export function record(history, state) {
  if (state === history.present) return history;
  const past = history.present === null ? history.past : [...history.past, history.present];
  return { ...history, past: past.slice(-history.limit), present: state, future: [] };
}

/** Replace the present without touching past or future (e.g. a re-serialised undo). */
export function replacePresent(history, state) {
  return state === history.present ? history : { ...history, present: state };
}

export function canUndo(history) {
  return history.past.length > 0;
}

export function canRedo(history) {
  return history.future.length > 0;
}

/** Step back; returns the same history when there is nothing to undo. */
export function undo(history) {
  if (!canUndo(history)) return history;
  const past = history.past.slice(0, -1);
  return { ...history, past, present: history.past.at(-1), future: [history.present, ...history.future] };
}

/** Step forward; returns the same history when there is nothing to redo. */
export function redo(history) {
  if (!canRedo(history)) return history;
  const [present, ...future] = history.future;
  return { ...history, past: [...history.past, history.present].slice(-history.limit), present, future };
}
