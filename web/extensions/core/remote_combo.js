/**
 * Combos with server-side choices (`remote`, e.g. LoadImageOutput's output images): the
 * choices are fetched when the node is created, again with the refresh button, and after
 * every finished prompt when the node's auto-refresh toggle is on (graph/remote_combo.js
 * decides the values). `combo.remoteLoading` is the pending fetch.
 */
import { remoteChoices, valueAfterFetch } from "../../graph/remote_combo.js";

function remoteCombos(node) {
  return (node.widgets ?? []).filter((w) => w.type === "combo" && w.inputDef?.options.remote);
}

async function fetchChoices(app, combo, refreshed) {
  const { route, control_after_refresh: mode } = combo.inputDef.options.remote;
  try {
    const choices = remoteChoices(await app.api.getRemoteList(route));
    combo.options.values = choices;
    const value = valueAfterFetch(combo.value, choices, { refreshed, mode });
    if (value !== combo.value) {
      combo.value = value;
      combo.callback?.(value);
    }
  } catch (error) {
    app.logger.warn(`choices of ${combo.name} from ${route}: ${error.message}`);
  }
  app.markDirty();
}

function load(app, combo, refreshed) {
  combo.remoteLoading = fetchChoices(app, combo, refreshed);
  return combo.remoteLoading;
}

export const remoteComboExtension = {
  name: "core.remote_combo",
  nodeCreated(node, app) {
    for (const combo of remoteCombos(node)) {
      if (combo.refreshButton) combo.refreshButton.callback = () => load(app, combo, true);
      load(app, combo, false);
    }
  },
  setup(app) {
    app.api.addEventListener("execution_success", () => {
      for (const node of app.graph?._nodes ?? []) {
        for (const combo of remoteCombos(node)) if (combo.autoRefresh?.value) load(app, combo, true);
      }
    });
  },
};
