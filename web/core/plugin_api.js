/**
 * What ComfyUI plugin browser scripts use, over this editor: `window.comfyAPI` and the
 * modules they import by ComfyUI's paths (`/scripts/app.js`, `api.js`, `widgets.js`,
 * `ui.js`, each a one-line re-export of `window.comfyAPI`). `installPluginApi` runs before
 * any plugin is imported.
 *
 * `app.registerExtension(ext)` takes an extension written for ComfyUI's frontend and
 * registers it with the editor's extension manager, its hooks called with ComfyUI's
 * arguments: `init(app)`, `setup(app)`, `addCustomNodeDefs(objectInfo, app)` (the raw
 * /object_info, before the editor reads it), `getCustomWidgets(app)` (widget makers
 * `(node, inputName, inputData, app) => ({widget})`), `beforeRegisterNodeDef(nodeType,
 * nodeData, app)` (nodeData: the node's /object_info entry), `registerCustomNodes(app)`,
 * `nodeCreated(node, app)`, `loadedGraphNode(node, app)`, `afterConfigureGraph(missing,
 * app)` (node types the loaded workflow names but nobody registered). Nodes get
 * `onExecuted(output)` when the server reports their UI output, as in ComfyUI.
 */
import { BUILTIN_WIDGET_FACTORIES } from "../graph/canvas_widgets.js";
import { parseInputSpec, widgetKind } from "../graph/node_defs.js";
import { $el, ComfyDialog } from "../ui/plugin_ui.js";

/** ComfyUI's ComfyWidgets for `editor`: builtin widget makers in ComfyUI's signature. */
export function comfyWidgets(editor) {
  const make = (kind) => (node, inputName, inputData, app) => {
    const { type, options } = parseInputSpec(inputData ?? [kind]);
    const input = { name: inputName, type, options, widget: widgetKind(type, options) ?? kind };
    const widget = BUILTIN_WIDGET_FACTORIES[kind](node, input, options.default, editor);
    return { widget };
  };
  return Object.fromEntries(Object.keys(BUILTIN_WIDGET_FACTORIES).map((kind) => [kind, make(kind)]));
}

/** ComfyUI's widget maker `(node, inputName, inputData, app) => {widget}` as an editor factory. */
function widgetFactory(maker, app) {
  return (node, input, value) => {
    const made = maker(node, input.name, [input.type, input.options], app);
    const widget = made?.widget ?? made;
    if (widget && value !== undefined && widget.value === undefined) widget.value = value;
    return widget;
  };
}

/** The editor-side extension that calls `ext`'s hooks the way ComfyUI's frontend does. */
export function adaptExtension(ext, app, editor) {
  const call = (hook, ...args) => (typeof ext[hook] === "function" ? ext[hook](...args, app) : undefined);
  return {
    name: ext.name,
    async init() { await app.settings.load(); return call("init"); },
    setup: () => call("setup"),
    addCustomNodeDefs: (objectInfo) => call("addCustomNodeDefs", objectInfo),
    async getCustomWidgets() {
      const makers = (await call("getCustomWidgets")) ?? {};
      return Object.fromEntries(Object.entries(makers).map(([type, maker]) => [type, widgetFactory(maker, app)]));
    },
    beforeRegisterNodeDef: (nodeType, def) => call("beforeRegisterNodeDef", nodeType, editor.objectInfo[def.name] ?? {}),
    registerCustomNodes: () => call("registerCustomNodes"),
    nodeCreated: (node) => call("nodeCreated", node),
    loadedGraphNode: (node) => call("loadedGraphNode", node),
    afterConfigureGraph: (workflow) => call("afterConfigureGraph", missingTypes(workflow, editor)),
  };
}

function missingTypes(workflow, editor) {
  const known = editor.lib.LiteGraph.registered_node_types;
  return [...new Set((workflow?.nodes ?? []).map((n) => n.type).filter((t) => !(t in known)))];
}

/** Settings plugins read and write (ComfyUI's per-user /settings, loaded once). */
class PluginSettings {
  constructor(api) {
    this.api = api;
    this.values = {};
    this.defaults = {};
    this.listeners = {};
    this._loading = null;
  }

  load() {
    this._loading ??= this.api.fetchApi("/settings").then((r) => (r.ok ? r.json() : {}))
      .then((values) => { this.values = values ?? {}; }).catch(() => {});
    return this._loading;
  }

  get(id, fallback) {
    return id in this.values ? this.values[id] : (this.defaults[id] ?? fallback);
  }

  async set(id, value) {
    const old = this.get(id);
    this.values[id] = value;
    await this.api.fetchApi(`/settings/${encodeURIComponent(id)}`, { method: "POST", body: JSON.stringify(value) });
    this.listeners[id]?.(value, old);
  }

  /** ComfyUI's `app.ui.settings.addSetting({id, defaultValue, onChange})`. */
  addSetting({ id, defaultValue, onChange }) {
    this.defaults[id] = defaultValue;
    if (onChange) {
      this.listeners[id] = onChange;
      onChange(this.get(id), undefined);
    }
    const settings = this;
    return { get value() { return settings.get(id); } };
  }
}

/** The `app` plugin scripts see: the editor's graph, canvas and API client, ComfyUI names. */
export class PluginApp {
  constructor(editor) {
    this.editor = editor;
    this.extensions = [];
    this.settings = new PluginSettings(editor.api);
    const settings = this.settings;
    this.ui = { settings: {
      addSetting: (opts) => settings.addSetting(opts),
      getSettingValue: (id, fallback) => settings.get(id, fallback),
      setSettingValue: (id, value) => settings.set(id, value),
    }, dialog: new ComfyDialog() };
    this.extensionManager = { setting: { get: (id) => settings.get(id), set: (id, v) => settings.set(id, v) } };
  }

  get graph() { return this.editor.graph; }
  get rootGraph() { return this.editor.graph; }
  get canvas() { return this.editor.canvas; }
  get canvasEl() { return this.editor.canvasElement; }
  get api() { return this.editor.api; }

  registerExtension(ext) {
    if (!ext || typeof ext.name !== "string" || !ext.name) throw new Error("an extension needs a non-empty string 'name'");
    this.editor.registerExtension(adaptExtension(ext, this, this.editor));
    this.extensions.push(ext);
  }

  async loadGraphData(graphData) {
    if (graphData) this.editor.loadWorkflow(graphData);
  }

  async graphToPrompt() {
    const { workflow, prompt } = this.editor.graphToPrompt();
    return { workflow, output: prompt };
  }

  async queuePrompt(number = 0, batchCount = 1) {
    for (let i = 0; i < batchCount; i++) await this.editor.queuePrompt({ front: number === -1 });
  }
}

/** Tell nodes their UI output (`node.onExecuted(output)`), as ComfyUI's frontend does. */
function forwardExecuted(editor) {
  editor.api.addEventListener("executed", ({ detail }) => {
    const node = editor.graph?.getNodeById(Number(detail?.node) || detail?.node);
    if (node?.onExecuted && detail.output) node.onExecuted(detail.output);
  });
}

/**
 * Publish the plugin surface on `win` for `editor` (before plugins load): comfyAPI and
 * the LiteGraph globals plugin scripts use without importing.
 * @returns {PluginApp}
 */
export function installPluginApi(editor, win = window) {
  const app = new PluginApp(editor);
  const { LiteGraph, LGraph, LGraphCanvas, LGraphNode } = editor.lib;
  Object.assign(win, { LiteGraph, LGraph, LGraphCanvas, LGraphNode });
  win.comfyAPI = {
    app: { app, ComfyApp: PluginApp },
    api: { api: editor.api, ComfyApi: editor.api.constructor },
    widgets: { ComfyWidgets: comfyWidgets(editor) },
    ui: { $el, ComfyDialog },
  };
  forwardExecuted(editor);
  return app;
}
