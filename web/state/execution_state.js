/**
 * The execution part of the editor state, as a pure reducer over websocket events
 * (COMPAT 2.3): which prompt and node are running, per-node progress, outputs, errors and
 * the queue size. Panels and canvas decorations only read this; tests drive it directly.
 */

/** State before any event arrived. */
export function initialExecutionState() {
  return {
    connected: false,
    queueRemaining: 0,
    promptId: null,
    runningNode: null,
    progress: null,
    nodeProgress: {},
    outputs: {},
    error: null,
    interrupted: null,
    lastFinished: null,
    cached: [],
  };
}

const HANDLERS = {
  status: (s, d) => ({ ...s, connected: true, queueRemaining: d?.exec_info?.queue_remaining ?? s.queueRemaining }),
  reconnecting: (s) => ({ ...s, connected: false }),
  reconnected: (s) => ({ ...s, connected: true }),
  execution_start: (s, d) => ({
    ...s, promptId: d.prompt_id, runningNode: null, progress: null, nodeProgress: {},
    error: null, interrupted: null, cached: [],
  }),
  execution_cached: (s, d) => ({ ...s, cached: (d.nodes ?? []).map(String) }),
  executing: (s, d) => {
    if (d.node === null || d.node === undefined) {
      return { ...s, runningNode: null, progress: null, lastFinished: d.prompt_id ?? s.promptId, promptId: null };
    }
    return { ...s, promptId: d.prompt_id ?? s.promptId, runningNode: String(d.display_node ?? d.node), progress: null };
  },
  progress: (s, d) => ({ ...s, progress: { value: d.value, max: d.max, node: String(d.node ?? s.runningNode) } }),
  progress_state: (s, d) => ({ ...s, nodeProgress: { ...d.nodes } }),
  executed: (s, d) => ({ ...s, outputs: { ...s.outputs, [String(d.display_node ?? d.node)]: d.output } }),
  execution_success: (s, d) => ({ ...s, runningNode: null, progress: null, lastFinished: d.prompt_id }),
  execution_error: (s, d) => ({ ...s, runningNode: null, progress: null, error: d }),
  execution_interrupted: (s, d) => ({ ...s, runningNode: null, progress: null, interrupted: d }),
};

/** Event types this reducer understands. */
export const EXECUTION_EVENTS = Object.freeze(Object.keys(HANDLERS));

/**
 * Next execution state after the api event `type` with payload `detail`; unknown events
 * return the same object.
 */
export function reduceExecution(state, type, detail) {
  const handler = HANDLERS[type];
  return handler ? handler(state, detail ?? {}) : state;
}

/**
 * The images a node's UI output lists (`{images:[{filename,subfolder,type}]}`), else [].
 */
export function outputImages(output) {
  return Array.isArray(output?.images) ? output.images : [];
}

/**
 * Map a POST /prompt refusal's node_errors to `{node_id: [message]}` for decorating nodes.
 */
export function nodeErrorMessages(nodeErrors) {
  const out = {};
  for (const [id, entry] of Object.entries(nodeErrors ?? {})) {
    out[id] = (entry.errors ?? []).map((e) => {
      const input = e.extra_info?.input_name ? ` (${e.extra_info.input_name})` : "";
      return `${e.message}${input}${e.details ? `: ${e.details}` : ""}`;
    });
  }
  return out;
}
