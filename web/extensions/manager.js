/**
 * The editor's extension API. Built-in features and plugins served from /extensions are
 * both plain objects registered here, so a plugin can do anything a built-in does.
 *
 * An extension is `{name, ...hooks}`; every hook is optional and may be async:
 *   init(app)                          before node definitions are fetched
 *   addCustomNodeDefs(objectInfo, app) may add or change raw /object_info entries before
 *                                      the editor reads them into NodeDefs
 *   getCustomWidgets(app)              returns {WIDGET_TYPE: (node, input, value, app) => widget}
 *   beforeRegisterNodeDef(NodeClass, def, app)  patch a node class before registration
 *   registerCustomNodes(app)           register frontend-only node types (Reroute, Note)
 *   nodeCreated(node, app)             a node was created (new or loaded)
 *   loadedGraphNode(node, app)         a node was configured from a saved workflow
 *   afterConfigureGraph(workflow, app) a workflow finished loading
 *   beforeQueue(app)                   right before a prompt is built and posted
 *   afterQueued(result, app)           the server accepted it ({prompt_id, number, ...})
 *   setup(app)                         once everything is ready (graph loaded, socket open)
 *
 * A plugin module from GET /extensions exports its extension as `default`, or a function
 * `default(app)` that registers any number through `app.registerExtension`. Scripts
 * written for ComfyUI's frontend import `app` from "/scripts/app.js" instead and get
 * ComfyUI's hook arguments (core/plugin_api.js).
 */
export class ExtensionManager {
  constructor(logger = console) {
    this.extensions = [];
    this.logger = logger;
  }

  /**
   * @param {{name: string}} extension
   * @throws {Error} on a missing or duplicate name
   */
  register(extension) {
    if (!extension || typeof extension.name !== "string" || !extension.name) {
      throw new Error("an extension needs a non-empty string 'name'");
    }
    if (this.extensions.some((e) => e.name === extension.name)) {
      throw new Error(`extension '${extension.name}' is already registered`);
    }
    this.extensions.push(extension);
  }

  /**
   * Call `hook` on every extension in registration order, awaiting each; a failing
   * extension is logged and skipped so one plugin cannot break the editor.
   * @returns {Promise<any[]>} the hooks' results (undefined entries dropped)
   */
  async invoke(hook, ...args) {
    const results = [];
    for (const extension of this.extensions) {
      if (typeof extension[hook] !== "function") continue;
      try {
        const result = await extension[hook](...args);
        if (result !== undefined) results.push(result);
      } catch (error) {
        this.logger.error(`extension '${extension.name}' failed in ${hook}:`, error);
      }
    }
    return results;
  }

  /** Synchronous variant for hooks called inside litegraph callbacks (nodeCreated). */
  invokeSync(hook, ...args) {
    for (const extension of this.extensions) {
      if (typeof extension[hook] !== "function") continue;
      try {
        extension[hook](...args);
      } catch (error) {
        this.logger.error(`extension '${extension.name}' failed in ${hook}:`, error);
      }
    }
  }

  /**
   * Import plugin modules by URL and register what they export.
   * @param {string[]} urls module URLs from GET /extensions
   * @param {object} app passed to function-style plugins
   * @param {(url: string) => Promise<object>} importer dynamic import (injectable in tests)
   */
  async loadPlugins(urls, app, importer = (url) => import(url)) {
    for (const url of urls) {
      try {
        const module = await importer(url);
        const exported = module.default;
        if (typeof exported === "function") await exported(app);
        else if (exported) this.register(exported);
      } catch (error) {
        this.logger.error(`could not load extension module ${url}:`, error);
      }
    }
  }
}
