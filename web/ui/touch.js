/**
 * Two-finger pinch zoom and pan on the canvas. Litegraph already follows one pointer
 * (pointer events: tap to select, one-finger drag of nodes and of the canvas) but has no
 * multi-touch gesture; this adds it. While two touches are down the second one is kept
 * from litegraph, and the canvas zooms about the fingers' midpoint.
 */

/**
 * Scale and pan after a pinch moved from `start` to `now` (two [x, y] points each).
 * @returns {{scale: number, center: [number, number], pan: [number, number]}} the new
 *   scale (startScale times the distance ratio), the current midpoint, and how far the
 *   midpoint moved (screen pixels)
 */
export function pinchUpdate(start, now, startScale) {
  const dist = (p) => Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]);
  const mid = (p) => [(p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2];
  const ratio = dist(start) > 0 ? dist(now) / dist(start) : 1;
  const [a, b] = [mid(start), mid(now)];
  return { scale: startScale * ratio, center: b, pan: [b[0] - a[0], b[1] - a[1]] };
}

/**
 * Install pinch zoom on `app.canvasElement`; returns a function that removes it. The
 * listeners sit on the canvas's parent in the capture phase, so they see each touch before
 * litegraph and can keep a pinch's pointers from it.
 */
export function installTouchGestures(app) {
  const element = app.canvasElement;
  const host = element.parentElement;
  const touches = new Map();
  let pinch = null;
  const points = () => [...touches.values()].slice(0, 2);
  const local = (e) => {
    const rect = element.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  };
  const down = (e) => {
    if (e.pointerType !== "touch" || e.target !== element) return;
    touches.set(e.pointerId, local(e));
    if (touches.size !== 2) return;
    const ds = app.canvas.ds;
    pinch = { start: points(), scale: ds.scale, offset: [...ds.offset], lastPan: [0, 0] };
    app.canvas.pointer?.reset?.();
    e.stopPropagation();
  };
  const move = (e) => {
    if (!touches.has(e.pointerId)) return;
    touches.set(e.pointerId, local(e));
    if (!pinch || touches.size < 2) return;
    e.stopPropagation();
    const ds = app.canvas.ds;
    const { scale, center, pan } = pinchUpdate(pinch.start, points(), pinch.scale);
    ds.offset[0] += (pan[0] - pinch.lastPan[0]) / ds.scale;
    ds.offset[1] += (pan[1] - pinch.lastPan[1]) / ds.scale;
    pinch.lastPan = pan;
    ds.changeScale(scale, center, false);
    app.markDirty();
  };
  const up = (e) => {
    if (!touches.delete(e.pointerId)) return;
    if (pinch) e.stopPropagation();
    if (touches.size < 2) pinch = null;
  };
  const options = { capture: true };
  host.addEventListener("pointerdown", down, options);
  host.addEventListener("pointermove", move, options);
  host.addEventListener("pointerup", up, options);
  host.addEventListener("pointercancel", up, options);
  return () => {
    host.removeEventListener("pointerdown", down, options);
    host.removeEventListener("pointermove", move, options);
    host.removeEventListener("pointerup", up, options);
    host.removeEventListener("pointercancel", up, options);
  };
}
