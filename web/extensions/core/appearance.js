/**
 * Canvas look that litegraph leaves to the app: one colour per link and slot type (the
 * palette ComfyUI users know: MODEL lavender, CLIP yellow, VAE red, LATENT pink, IMAGE
 * blue, ...) and a clear mark on nodes whose type the server does not know; those keep
 * their saved JSON (litegraph returns it on save) so nothing is lost.
 */
export const TYPE_COLOURS = Object.freeze({
  MODEL: "#B39DDB", CLIP: "#FFD500", VAE: "#FF6E6E", LATENT: "#FF9CF9", IMAGE: "#64B5F6",
  MASK: "#81C784", CONDITIONING: "#FFA931", CLIP_VISION: "#A8DADC", CLIP_VISION_OUTPUT: "#ad7452",
  CONTROL_NET: "#00D78D", STYLE_MODEL: "#C2FFAE", UPSCALE_MODEL: "#5EC2FF", INT: "#29699C",
  FLOAT: "#79A8D1", STRING: "#7ECB8B", BOOLEAN: "#D47BA2", SIGMAS: "#CDFFCD", NOISE: "#B0B0B0",
  SAMPLER: "#ECB4B4", GUIDER: "#66FFFF",
});

const MISSING_COLOUR = "#a33";
const MISSING_BG = "#522";

/** Class types in `workflow` that are neither registered nor frontend-only. */
export function missingTypes(workflow, isKnown) {
  const types = new Set();
  for (const node of workflow.nodes ?? []) {
    if (!isKnown(node.type)) types.add(node.type);
  }
  return [...types].sort();
}

function isKnownType(app, type) {
  return Boolean(app.lib.LiteGraph.registered_node_types[type]);
}

function drawMissingLabel(ctx, node, titleHeight) {
  ctx.save();
  ctx.fillStyle = "#ff8a8a";
  ctx.font = "bold 12px sans-serif";
  ctx.fillText(`missing node type: ${node.type}`, node.pos[0] + 4, node.pos[1] - titleHeight - 6, Math.max(node.size[0], 240));
  ctx.restore();
}

export const appearanceExtension = {
  name: "core.appearance",
  setup(app) {
    Object.assign(app.lib.LGraphCanvas.link_type_colors, TYPE_COLOURS);
    app.canvas.default_connection_color_byType = { ...TYPE_COLOURS };
    app.store.update({ missingTypes: [] });
  },
  afterConfigureGraph(workflow, app) {
    const missing = missingTypes(workflow, (type) => isKnownType(app, type));
    app.store.update({ missingTypes: missing });
    for (const node of app.graph._nodes) {
      if (isKnownType(app, node.type)) continue;
      node.color = MISSING_COLOUR;
      node.bgcolor = MISSING_BG;
      node.isMissing = true;
    }
    if (missing.length) app.notify(`Missing node types (kept as they are): ${missing.join(", ")}`);
  },
  drawForeground(ctx, app) {
    for (const node of app.graph._nodes) {
      if (node.isMissing) drawMissingLabel(ctx, node, app.lib.LiteGraph.NODE_TITLE_HEIGHT);
    }
  },
};
