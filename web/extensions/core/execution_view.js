/**
 * What execution looks like on the canvas: the running node outlined with a progress bar,
 * live previews (binary frames) and output images (executed events) drawn inside their
 * nodes (which grow to fit them, capped), and validation or execution errors marked on the offending nodes.
 */
import { outputImages } from "../../state/execution_state.js";
import { fitImageNode, imageGrid } from "../../graph/image_fit.js";

const RUNNING_COLOUR = "#3fbf5f";
const ERROR_TEXT_COLOUR = "#ff6b6b";
const CACHED_COLOUR = "#6aa7ff";
const FINISHED_COLOUR = "#2a6b3a";

function loadImage(url, onload) {
  const img = new Image();
  img.onload = onload;
  img.src = url;
  return img;
}

/** Top of the free area under a node's slots and widgets, node-local. */
function contentBottom(node) {
  let bottom = node.computeSize()[1];
  for (const w of node.widgets ?? []) {
    if (w.y !== undefined) bottom = Math.max(bottom, w.y + (w.computedHeight ?? 24));
  }
  return bottom + 6;
}

/**
 * Grow `node` to fit `ready` (graph/image_fit.js) once per new set of images, so the user
 * can still resize it afterwards.
 */
function fitNodeToImages(node, ready, top) {
  const key = `${ready.length}:${ready[0].src}`;
  if (node.fittedImages === key) return;
  node.fittedImages = key;
  node.setSize(fitImageNode(node.size, top, [ready[0].naturalWidth, ready[0].naturalHeight], ready.length));
}

/** Draw `images` in a grid filling the free area of `node`. */
function drawImages(ctx, node, images) {
  const ready = images.filter((img) => img.complete && img.naturalWidth > 0);
  if (!ready.length) return;
  const top = contentBottom(node);
  fitNodeToImages(node, ready, top);
  const { cols, rows } = imageGrid(ready.length);
  const cellW = (node.size[0] - 20) / cols;
  const cellH = (node.size[1] - top - 10) / rows;
  ready.forEach((img, i) => {
    const scale = Math.min(cellW / img.naturalWidth, cellH / img.naturalHeight);
    const w = img.naturalWidth * scale;
    const h = img.naturalHeight * scale;
    const x = 10 + (i % cols) * cellW + (cellW - w) / 2;
    const y = top + Math.floor(i / cols) * cellH + (cellH - h) / 2;
    ctx.drawImage(img, x, y, w, h);
  });
}

/**
 * The canvas node that shows execution id `id`: itself, or for a node inside a subgraph
 * ("12:5", COMPAT 3.4) the instance on the root graph.
 */
export function canvasNodeFor(graph, id) {
  if (id === null || id === undefined) return null;
  return graph.getNodeById(String(id)) ?? graph.getNodeById(String(id).split(":")[0]) ?? null;
}

function nodeBounds(node, LiteGraph) {
  const title = LiteGraph.NODE_TITLE_HEIGHT;
  return [node.pos[0], node.pos[1] - title, node.size[0], node.size[1] + title];
}

/** One thin bar over each node the last progress_state listed (value / max, COMPAT 2.3). */
function drawNodeProgress(ctx, app, nodeProgress) {
  ctx.save();
  for (const [id, p] of Object.entries(nodeProgress ?? {})) {
    const node = canvasNodeFor(app.graph, p.display_node_id ?? id);
    if (!node || !(p.max > 0)) continue;
    const [x, y, w] = nodeBounds(node, app.lib.LiteGraph);
    ctx.fillStyle = p.state === "finished" ? FINISHED_COLOUR : RUNNING_COLOUR;
    ctx.fillRect(x, y - 12, (w * Math.min(p.value, p.max)) / p.max, 5);
  }
  ctx.restore();
}

function drawRunning(ctx, app, execution) {
  drawNodeProgress(ctx, app, execution.nodeProgress);
  const node = canvasNodeFor(app.graph, execution.runningNode);
  if (!node) return;
  const [x, y, w, h] = nodeBounds(node, app.lib.LiteGraph);
  ctx.save();
  ctx.strokeStyle = RUNNING_COLOUR;
  ctx.lineWidth = 3;
  ctx.strokeRect(x - 5, y - 5, w + 10, h + 10);
  const p = execution.progress;
  if (p && p.max > 0 && canvasNodeFor(app.graph, p.node) === node) {
    ctx.fillStyle = RUNNING_COLOUR;
    ctx.fillRect(x, y - 12, (w * p.value) / p.max, 5);
  }
  ctx.restore();
}

/** A small "cached" tag over each node whose output came from the cache in the last run. */
function drawCached(ctx, app, cached) {
  if (!cached?.length) return;
  const title = app.lib.LiteGraph.NODE_TITLE_HEIGHT;
  ctx.save();
  ctx.font = "11px sans-serif";
  for (const id of cached) {
    const node = app.graph.getNodeById(id);
    if (!node) continue;
    const x = node.pos[0] + node.size[0] - 52;
    const y = node.pos[1] - title - 16;
    ctx.fillStyle = CACHED_COLOUR;
    ctx.fillRect(x, y, 50, 14);
    ctx.fillStyle = "#10131a";
    ctx.fillText("cached", x + 8, y + 11);
  }
  ctx.restore();
}

function drawErrors(ctx, app, nodeErrors) {
  ctx.save();
  ctx.fillStyle = ERROR_TEXT_COLOUR;
  ctx.font = "13px sans-serif";
  for (const [id, messages] of Object.entries(nodeErrors)) {
    const node = app.graph.getNodeById(id);
    if (!node) continue;
    messages.forEach((message, i) => {
      ctx.fillText(message, node.pos[0], node.pos[1] + node.size[1] + 18 + 16 * i, Math.max(node.size[0], 360));
    });
  }
  ctx.restore();
}

/** Merge validation errors and the last execution error into `{node_id: [message]}`. */
export function errorsByNode(state) {
  const out = { ...state.nodeErrors };
  const err = state.execution.error;
  if (err?.node_id != null) {
    const id = String(err.node_id);
    out[id] = [...(out[id] ?? []), `${err.exception_type}: ${err.exception_message}`];
  }
  return out;
}

export function createExecutionViewExtension() {
  const outputs = new Map();
  const previews = new Map();
  return {
    name: "core.execution_view",
    setup(app) {
      app.api.addEventListener("executed", (e) => {
        const id = String(canvasNodeFor(app.graph, e.detail.display_node ?? e.detail.node)?.id ?? e.detail.node);
        const bust = Date.now();
        outputs.set(id, outputImages(e.detail.output).map((im) => loadImage(app.api.viewURL(im, { bust }), () => app.markDirty())));
        previews.delete(id);
        app.markDirty();
      });
      app.api.addEventListener("b_preview", (e) => {
        const meta = e.detail.meta;
        const shown = meta?.display_node_id ?? meta?.node_id ?? app.store.state.execution.runningNode;
        const id = String(canvasNodeFor(app.graph, shown)?.id ?? shown);
        const old = previews.get(id);
        if (old) URL.revokeObjectURL(old.src);
        const img = loadImage(URL.createObjectURL(e.detail.blob), () => app.markDirty());
        previews.set(id, img);
      });
      app.api.addEventListener("execution_start", () => previews.clear());
      app.store.subscribe((state) => {
        const errors = errorsByNode(state);
        for (const node of app.graph._nodes) node.has_errors = String(node.id) in errors;
      });
    },
    nodeCreated(node, app) {
      node.onDrawBackground = function (ctx) {
        if (this.flags?.collapsed) return;
        const id = String(this.id);
        const preview = previews.get(id);
        const images = preview ? [preview] : (outputs.get(id) ?? this.inputPreviews);
        if (images?.length) drawImages(ctx, this, images);
      };
      node.imagesFor = () => outputs.get(String(node.id)) ?? [];
      node.previewFor = () => previews.get(String(node.id)) ?? null;
      const onDblClick = node.onDblClick;
      node.onDblClick = function (...args) {
        const images = this.imagesFor().length ? this.imagesFor() : (this.inputPreviews ?? []);
        if (images.length) app.showImages?.(images);
        return onDblClick?.apply(this, args);
      };
    },
    drawForeground(ctx, app) {
      const state = app.store.state;
      drawRunning(ctx, app, state.execution);
      drawCached(ctx, app, state.execution.cached);
      drawErrors(ctx, app, errorsByNode(state));
    },
  };
}
