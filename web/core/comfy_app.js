/**
 * The editor application: owns the litegraph graph and canvas, the node definitions, the
 * store and the extension manager, and wires the API client's events into the store.
 * Everything else (panels, canvas decorations, seed control, Reroute, Note) plugs in as an
 * extension or a panel that reads the store; the conversions it calls are pure modules.
 */
import { normaliseObjectInfo } from "../graph/node_defs.js";
import { workflowToPrompt, buildPromptRequest } from "../graph/to_prompt.js";
import { expandGroupNodes } from "../graph/group_nodes.js";
import { expandPromptText } from "../graph/text_replacements.js";
import { promptToWorkflow } from "../graph/from_prompt.js";
import { defaultWorkflow } from "../graph/default_workflow.js";
import { checkWorkflow, compactWidgetInputs, isApiPrompt } from "../graph/workflow_format.js";
import { BUILTIN_WIDGET_FACTORIES, DomWidgetLayer } from "../graph/canvas_widgets.js";
import { registerNodeTypes, registerSubgraphType, restoreWidgetSlots } from "../graph/node_types.js";
import { ExtensionManager } from "../extensions/manager.js";
import { Store } from "../state/store.js";
import { EXECUTION_EVENTS, initialExecutionState, nodeErrorMessages, reduceExecution } from "../state/execution_state.js";
import { loadSavedWorkflow, loadSavedTabs, Autosaver } from "../state/persistence.js";
import { activeTab } from "../state/workflow_tabs.js";
import { WorkflowManager } from "./workflows.js";
import { PromptError } from "../api/client.js";

const AUTOSAVE_MS = 1000;
/** ComfyUI's user setting for live previews; its value goes out as extra_data.preview_method. */
export const PREVIEW_METHOD_SETTING = "Comfy.Execution.PreviewMethod";
export const PREVIEW_METHODS = ["default", "none", "auto", "latent2rgb", "taesd"];

export class ComfyApp {
  /**
   * @param {{lib: object, api: import("../api/client.js").ApiClient, canvasElement: HTMLCanvasElement,
   *          overlay: HTMLElement, storage: Storage, logger?: Console}} opts
   *   lib = {LiteGraph, LGraph, LGraphCanvas, LGraphNode, SubgraphNode} from @comfyorg/litegraph
   */
  constructor(opts) {
    this.lib = opts.lib;
    this.api = opts.api;
    this.canvasElement = opts.canvasElement;
    this.overlay = opts.overlay;
    this.storage = opts.storage;
    this.logger = opts.logger ?? console;
    this.extensions = new ExtensionManager(this.logger);
    this.widgetFactories = { ...BUILTIN_WIDGET_FACTORIES };
    this.defs = {};
    /** The raw /object_info answer the defs were read from (plugins get its entries). */
    this.objectInfo = {};
    /** NodeDefs of frontend-only nodes (Primitive) for the search box; extensions add them. */
    this.frontendDefs = {};
    this.store = new Store({
      execution: initialExecutionState(), queue: { running: [], pending: [] }, history: {},
      systemStats: null, nodeErrors: {}, promptError: null, notice: null, tabs: null, savedWorkflowsVersion: 0,
    });
    this.workflows = new WorkflowManager(this);
    this.graph = null;
    this.canvas = null;
    this.domWidgets = null;
    this.autosaver = new Autosaver(this.storage, this.logger);
  }

  /** Register an extension (built-in or plugin); see extensions/manager.js for hooks. */
  registerExtension(extension) {
    this.extensions.register(extension);
  }

  /** Start the editor: plugins, node types, canvas, saved graph, websocket. */
  async start() {
    await this.extensions.loadPlugins(await this._pluginUrls(), this);
    await this.extensions.invoke("init", this);
    for (const widgets of await this.extensions.invoke("getCustomWidgets", this)) {
      Object.assign(this.widgetFactories, widgets);
    }
    const customWidgetTypes = Object.keys(this.widgetFactories);
    this.objectInfo = await this.api.getObjectInfo();
    await this.extensions.invoke("addCustomNodeDefs", this.objectInfo, this);
    this.defs = normaliseObjectInfo(this.objectInfo, { customWidgetTypes });
    await registerNodeTypes(this, this.defs);
    await this.extensions.invoke("registerCustomNodes", this);
    this._createCanvas();
    this._wireApiEvents();
    const tabs = loadSavedTabs(this.storage, this.logger);
    const first = (tabs && activeTab(tabs).workflow) ?? loadSavedWorkflow(this.storage, this.logger) ?? defaultWorkflow(this.defs);
    this.loadWorkflow(first, { quiet: true });
    this.workflows.init(tabs);
    this.api.connect();
    setInterval(() => this._autosave(), AUTOSAVE_MS);
    await this.extensions.invoke("setup", this);
  }

  async _pluginUrls() {
    try {
      return await this.api.getExtensions();
    } catch (error) {
      this.logger.warn(`no plugin list from the server: ${error.message}`);
      return [];
    }
  }

  _createCanvas() {
    const { LGraph, LGraphCanvas, LiteGraph } = this.lib;
    LiteGraph.release_link_on_empty_shows_menu = true;
    this.graph = new LGraph();
    this.graph.events.addEventListener("subgraph-created", (e) => registerSubgraphType(this, e.detail.subgraph));
    this.canvas = new LGraphCanvas(this.canvasElement, this.graph);
    this.canvas.allow_searchbox = true;
    this.canvas.show_info = false;
    this.domWidgets = new DomWidgetLayer(this.overlay, this.canvas);
    const drawForeground = this.canvas.onDrawForeground;
    this.canvas.onDrawForeground = (ctx, area) => {
      drawForeground?.call(this.canvas, ctx, area);
      this.extensions.invokeSync("drawForeground", ctx, this);
      this.domWidgets.endFrame();
    };
    const app = this;
    const { onNodeAdded } = this.graph;
    this.graph.onNodeAdded = function (node) {
      onNodeAdded?.call(this, node);
      app.extensions.invokeSync("nodeCreated", node, app);
    };
    const resize = () => {
      const rect = this.canvasElement.parentElement.getBoundingClientRect();
      this.canvas.resize(Math.floor(rect.width), Math.floor(rect.height));
      this.markDirty();
    };
    new ResizeObserver(resize).observe(this.canvasElement.parentElement);
    resize();
  }

  _wireApiEvents() {
    for (const type of [...EXECUTION_EVENTS, "reconnecting", "reconnected"]) {
      this.api.addEventListener(type, (event) => {
        this.store.update((s) => ({ ...s, execution: reduceExecution(s.execution, type, event.detail) }));
        this.markDirty();
      });
    }
  }

  /** Ask the canvas to redraw (foreground and background). */
  markDirty() {
    this.canvas?.setDirty(true, true);
  }

  /**
   * Replace the graph by a UI workflow or an API prompt.
   * @param {{quiet?: boolean, keepView?: boolean}} [opts] quiet: no notice; keepView: keep
   *   the current pan and zoom
   * @throws {Error} naming what is wrong when `json` is neither
   */
  loadWorkflow(json, opts = {}) {
    const workflow = isApiPrompt(json) ? promptToWorkflow(json, this.defs) : expandGroupNodes(checkWorkflow(json), this.defs);
    this.graph.clear();
    this.domWidgets.prune(this.graph);
    this.graph.configure(structuredClone(workflow));
    for (const node of this.graph._nodes ?? this.graph.nodes ?? []) {
      restoreWidgetSlots(node);
      this.extensions.invokeSync("loadedGraphNode", node, this);
    }
    const ds = workflow.extra?.ds;
    if (!opts.keepView && ds?.offset && ds.scale) {
      this.canvas.ds.offset = [...ds.offset];
      this.canvas.ds.scale = ds.scale;
    }
    this.store.update({ nodeErrors: {}, promptError: null });
    this.extensions.invoke("afterConfigureGraph", workflow, this);
    if (!opts.quiet) this.notify(`Loaded workflow with ${workflow.nodes.length} nodes`);
    this.markDirty();
  }

  /**
   * Add a node of class `type` with its top-left at graph position `pos`, in the graph the
   * canvas shows (the root, or a subgraph opened for editing).
   * @param {(node: object) => void} [configure] runs after the node joined the graph
   * @throws {Error} naming the type when it is not registered
   */
  addNodeAt(type, pos, configure) {
    const node = this.lib.LiteGraph.createNode(type);
    if (!node) throw new Error(`unknown node type '${type}'`);
    node.pos = [pos[0], pos[1]];
    (this.canvas?.graph ?? this.graph).add(node);
    configure?.(node);
    this.canvas.selectNode?.(node);
    this.markDirty();
    return node;
  }

  /** The current graph as a UI workflow (schema 0.4, compact widget slots, view state). */
  serializeWorkflow() {
    const workflow = this.graph.serialize();
    workflow.extra = { ...(workflow.extra ?? {}), ds: { scale: this.canvas.ds.scale, offset: [...this.canvas.ds.offset] } };
    return compactWidgetInputs(workflow);
  }

  /** The current graph as an API prompt (COMPAT 3.4), filename_prefix fields expanded. */
  graphToPrompt(opts = {}) {
    const workflow = this.serializeWorkflow();
    return { workflow, prompt: expandPromptText(workflowToPrompt(workflow, this.defs, opts)) };
  }

  /**
   * Queue the graph: build the prompt, POST it, then run the value controls. Validation
   * errors are stored (nodeErrors, promptError) for the canvas and the error dialog.
   * @returns {Promise<object|null>} the server's answer, or null when refused
   */
  async queuePrompt(opts = {}) {
    await this.extensions.invoke("beforeQueue", this);
    let request;
    try {
      const { workflow, prompt } = this.graphToPrompt({ outputTargets: opts.targets });
      request = buildPromptRequest({ clientId: this.api.clientId, prompt, workflow, front: opts.front, targets: opts.targets,
        previewMethod: await this.previewMethod() });
    } catch (error) {
      this.store.update({ promptError: { message: error.message, details: "" }, nodeErrors: {} });
      return null;
    }
    try {
      const result = await this.api.queuePrompt(request);
      this.store.update({ nodeErrors: nodeErrorMessages(result.node_errors), promptError: null });
      await this.extensions.invoke("afterQueued", result, this);
      return result;
    } catch (error) {
      const refusal = error instanceof PromptError ? error.response : null;
      this.store.update({
        nodeErrors: nodeErrorMessages(refusal?.node_errors),
        promptError: refusal?.error ?? { message: error.message, details: "" },
      });
      return null;
    } finally {
      this.markDirty();
    }
  }

  /** The user's live preview choice (ComfyUI's `Comfy.Execution.PreviewMethod` setting):
   * "default" (the server's --preview-method), "none", "auto", "latent2rgb" or "taesd". */
  async previewMethod() {
    try {
      return (await this.api.getSetting(PREVIEW_METHOD_SETTING)) ?? "default";
    } catch {
      return "default"; // settings unreachable: leave it to the server
    }
  }

  /** Open a UI workflow or API prompt in a new tab (file drop, history, saved list). */
  openWorkflow(json, opts) {
    this.workflows.open(json, opts);
  }

  /** Show a short message in the status bar. */
  notify(message) {
    this.store.update({ notice: { message, at: Date.now() } });
  }

  /** Let the user pick an image and upload it into `node` (extensions/core/image_upload.js). */
  pickAndUpload(node) {
    const picker = document.createElement("input");
    picker.type = "file";
    picker.accept = "image/png,image/jpeg,image/webp";
    picker.addEventListener("change", () => {
      const file = picker.files?.[0];
      if (file) this.uploadToNode?.(node, file);
    });
    picker.click();
  }

  _autosave() {
    // edits inside an open subgraph are saved with the root's definitions
    if (this.graph) this.autosaver.save(this.serializeWorkflow(), this.workflows.snapshot());
  }
}
