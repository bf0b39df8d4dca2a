/**
 * Undo/redo of every edit (Ctrl+Z, Ctrl+Y or Ctrl+Shift+Z): before and after each pointer
 * or key gesture the graph is serialised (view position left out) and recorded in the pure
 * history of state/history.js when it changed; undo loads the previous snapshot back.
 * Loading another workflow starts a fresh history.
 *
 * The check after a gesture is deferred (so litegraph's own handlers finish first) and a
 * busy browser may run it late, even in the middle of the next drag: so the state is also
 * recorded when a pointer goes down, and a deferred check never records while one is down
 * (a half-dragged node is not an undo step).
 */
import { startHistory, record, replacePresent, undo, redo } from "../../state/history.js";

function snapshot(app) {
  const workflow = app.serializeWorkflow();
  if (workflow.extra) delete workflow.extra.ds;
  return JSON.stringify(workflow);
}

function isTextTarget(target) {
  return ["input", "textarea", "select"].includes(target?.localName) || target?.isContentEditable;
}

export function createUndoExtension() {
  let history = null;

  function apply(app, step) {
    check(app);
    const next = step(history);
    if (next === history) return false;
    history = next;
    app.loadWorkflow(JSON.parse(history.present), { quiet: true, keepView: true });
    history = replacePresent(history, snapshot(app));
    return true;
  }

  function check(app) {
    if (history && app.graph) history = record(history, snapshot(app));
  }

  return {
    name: "core.undo",
    setup(app) {
      history = startHistory(snapshot(app));
      app.undo = () => apply(app, undo);
      app.redo = () => apply(app, redo);
      app.checkpoint = () => check(app);
      const pressed = new Set();  // pointers down now: a drag in progress
      const later = () => setTimeout(() => { if (!pressed.size) check(app); }, 0);
      window.addEventListener("pointerdown", (e) => {
        if (e.isPrimary) pressed.clear();  // a new gesture: a release we never saw is over
        if (!pressed.size) check(app);
        pressed.add(e.pointerId);
      }, true);
      for (const type of ["pointerup", "pointercancel"]) {
        window.addEventListener(type, (e) => { pressed.delete(e.pointerId); later(); }, true);
      }
      window.addEventListener("keyup", later, true);
      window.addEventListener("keydown", (e) => {
        if (!(e.ctrlKey || e.metaKey) || isTextTarget(e.target)) return;
        const key = e.key.toLowerCase();
        if (key === "z" && !e.shiftKey) app.undo();
        else if (key === "y" || (key === "z" && e.shiftKey)) app.redo();
        else return;
        e.preventDefault();
      });
    },
    afterConfigureGraph(workflow, app) {
      if (!history) return;
      const now = snapshot(app);
      if (now !== history.present) history = startHistory(now, history.limit);
    },
  };
}
