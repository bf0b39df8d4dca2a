/**
 * A small observable store: one frozen state object replaced on every update, so panels
 * read a consistent snapshot and re-render on "change". No globals; the app creates one.
 */
export class Store extends EventTarget {
  /** @param {object} initial first state */
  constructor(initial) {
    super();
    this._state = Object.freeze({ ...initial });
  }

  /** The current state snapshot (frozen; never mutate it). */
  get state() {
    return this._state;
  }

  /**
   * Replace the state by `fn(state)` (or merge a patch object) and notify subscribers when
   * anything changed.
   * @param {object|function(object): object} patchOrFn
   */
  update(patchOrFn) {
    const previous = this._state;
    const next = typeof patchOrFn === "function" ? patchOrFn(previous) : { ...previous, ...patchOrFn };
    if (next === previous) return;
    this._state = Object.freeze({ ...next });
    this.dispatchEvent(new CustomEvent("change", { detail: { state: this._state, previous } }));
  }

  /**
   * Call `listener(state, previous)` on every change; returns the unsubscribe function.
   * @param {function(object, object): void} listener
   */
  subscribe(listener) {
    const handler = (event) => listener(event.detail.state, event.detail.previous);
    this.addEventListener("change", handler);
    return () => this.removeEventListener("change", handler);
  }
}
