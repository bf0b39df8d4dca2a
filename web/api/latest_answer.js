/**
 * Panels reload server state (queue, history, saved workflows) on every event that may
 * change it, so several loads can be in flight at once, and their answers can arrive in
 * any order. Showing each answer as it arrives would let an older one (read before the
 * job was recorded) replace a newer one and stay on screen until the next event.
 */

/**
 * Wrap `load` (async, returns what the server said) and `show` so overlapping calls end
 * showing the answer of the call started last: an answer that arrives after the answer of
 * a later call was shown is dropped. Errors of `load` reach the caller.
 * @template T
 * @param {() => Promise<T>} load
 * @param {(answer: T) => void} show
 * @returns {() => Promise<boolean>} resolves true when this call's answer was shown
 */
export function latestAnswer(load, show) {
  let started = 0;
  let shown = 0;
  return async () => {
    const ticket = ++started;
    const answer = await load();
    if (ticket < shown) return false;
    shown = ticket;
    show(answer);
    return true;
  };
}
