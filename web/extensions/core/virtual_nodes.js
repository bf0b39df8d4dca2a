/**
 * Frontend-only nodes that never reach the server (COMPAT 3.4 step 3): Reroute, a
 * pass-through dot whose type follows its input, and Note, a text box. Written on the same
 * extension API a plugin would use.
 */

function rerouteClass(LGraphNode) {
  return class Reroute extends LGraphNode {
    static title = "Reroute";
    constructor(title) {
      super(title);
      this.isVirtualNode = true;
      this.addInput("", "*");
      this.addOutput("", "*");
      this.size = [75, 26];
      this.serialize_widgets = false;
    }

    /** Take the type of whatever feeds the input so links downstream validate. */
    onConnectionsChange() {
      const link = this.inputs[0]?.link != null ? this.graph?._links.get(this.inputs[0].link) : null;
      const type = link?.type ?? "*";
      this.outputs[0].type = type;
      this.outputs[0].label = type === "*" ? "" : type;
    }
  };
}

function noteClass(LGraphNode, app) {
  return class Note extends LGraphNode {
    static title = "Note";
    constructor(title) {
      super(title);
      this.isVirtualNode = true;
      this.serialize_widgets = true;
      this.color = "#432";
      this.bgcolor = "#653";
      const input = { name: "text", type: "STRING", widget: "STRING", options: { multiline: true, placeholder: "note" } };
      app.widgetFactories.STRING(this, input, "", app);
      this.size = [320, 130];
    }
  };
}

export const virtualNodesExtension = {
  name: "core.virtual_nodes",
  registerCustomNodes(app) {
    const { LiteGraph, LGraphNode } = app.lib;
    for (const [type, cls] of [["Reroute", rerouteClass(LGraphNode)], ["Note", noteClass(LGraphNode, app)]]) {
      LiteGraph.registerNodeType(type, cls);
      cls.category = "utils";
    }
  },
};
