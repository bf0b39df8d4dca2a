/**
 * Entry point: build the API client and the app, register the built-in extensions, mount
 * the panels and start. The one app instance lives here, at the edge, and is exposed as
 * `window.comfyApp` for debugging; plugin scripts get ComfyUI's `window.comfyAPI`
 * (core/plugin_api.js).
 */
import { LiteGraph, LGraph, LGraphCanvas, LGraphNode, SubgraphNode } from "@comfyorg/litegraph";
import { ApiClient } from "./api/client.js";
import { ComfyApp } from "./core/comfy_app.js";
import { installPluginApi } from "./core/plugin_api.js";
import { valueControlExtension } from "./extensions/core/value_control.js";
import { virtualNodesExtension } from "./extensions/core/virtual_nodes.js";
import { createExecutionViewExtension } from "./extensions/core/execution_view.js";
import { mountToolbar } from "./ui/toolbar.js";
import { mountStatusBar } from "./ui/status_bar.js";
import { mountQueuePanel } from "./ui/queue_panel.js";
import { mountErrorDialog } from "./ui/error_dialog.js";
import { mountSearchBox } from "./ui/search_box.js";
import { mountTabsBar } from "./ui/tabs_bar.js";
import { mountWorkflowsPanel } from "./ui/workflows_panel.js";
import { mountImageViewer } from "./ui/image_viewer.js";
import { installFileDrop } from "./ui/file_open.js";
import { installTouchGestures } from "./ui/touch.js";
import { imageUploadExtension } from "./extensions/core/image_upload.js";
import { createUndoExtension } from "./extensions/core/undo.js";
import { nodeModesExtension } from "./extensions/core/node_modes.js";
import { appearanceExtension } from "./extensions/core/appearance.js";
import { widgetInputsExtension } from "./extensions/core/widget_inputs.js";
import { primitiveNodeExtension } from "./extensions/core/primitive_node.js";
import { subgraphsExtension } from "./extensions/core/subgraphs.js";
import { remoteComboExtension } from "./extensions/core/remote_combo.js";

async function main() {
  const api = new ApiClient({ storage: window.sessionStorage });
  const app = new ComfyApp({
    lib: { LiteGraph, LGraph, LGraphCanvas, LGraphNode, SubgraphNode },
    api,
    canvasElement: document.getElementById("graph-canvas"),
    overlay: document.getElementById("dom-widgets"),
    storage: window.localStorage,
  });
  window.comfyApp = app;
  installPluginApi(app);
  const builtins = [virtualNodesExtension, valueControlExtension, createExecutionViewExtension(),
    appearanceExtension, nodeModesExtension, createUndoExtension(), imageUploadExtension,
    widgetInputsExtension, primitiveNodeExtension, subgraphsExtension, remoteComboExtension];
  for (const extension of builtins) {
    app.registerExtension(extension);
  }
  mountToolbar(document.getElementById("toolbar"), app);
  mountStatusBar(document.getElementById("status-bar"), app);
  mountErrorDialog(document.getElementById("error-dialog"), app);
  mountImageViewer(document.getElementById("image-viewer"), app);
  await app.start();
  installSearchBox(app, mountSearchBox(document.getElementById("node-search"), app));
  mountQueuePanel(document.getElementById("queue-panel"), app);
  mountTabsBar(document.getElementById("tabs-bar"), app);
  mountWorkflowsPanel(document.getElementById("workflows-panel"), app);
  installFileDrop(app, (file, event) => app.dropOnNode(file, event));
  installTouchGestures(app);
  document.body.dataset.ready = "true";
}

/** Our search box replaces litegraph's on double-click and on a link dropped on empty space. */
function installSearchBox(app, search) {
  app.canvas.showSearchBox = (event) => search.open({ clientX: event.clientX, clientY: event.clientY });
  app.canvas.showConnectionMenu = ({ nodeFrom, slotFrom, nodeTo, slotTo, e }) => {
    const link = nodeFrom ? { node: nodeFrom, slot: slotFrom, direction: "output" } : { node: nodeTo, slot: slotTo, direction: "input" };
    search.open({ clientX: e.clientX, clientY: e.clientY, link });
  };
  app.searchBox = search;
}

main().catch((error) => {
  console.error("the editor failed to start:", error);
  const banner = document.getElementById("startup-error");
  banner.textContent = `The editor failed to start: ${error.message}`;
  banner.hidden = false;
});
