/**
 * The node search box: opens on a double-click of the empty canvas (and when a dragged
 * link is dropped on empty space, then filtered to nodes that fit the link's type), ranks
 * nodes with graph/node_search.js, and adds the chosen one where the box was opened,
 * connected to the dragged slot if any. Arrow keys move, Enter adds, Escape closes.
 */
import { h } from "./dom.js";
import { searchNodes, firstAcceptingInput, firstProvidingOutput } from "../graph/node_search.js";

const MAX_RESULTS = 30;

function resultRow(def, onPick) {
  return h("li", { "data-type": def.name, onmousedown: (e) => { e.preventDefault(); onPick(def); } },
    h("span", { class: "name" }, def.displayName),
    def.displayName !== def.name ? h("span", { class: "class" }, def.name) : null,
    h("span", { class: "category" }, def.category));
}

/**
 * Mount the search box into `root` (an absolutely positioned container over the page).
 * @returns {{open: function({clientX: number, clientY: number, link?: object}): void, close: function(): void}}
 *   link: {node, slot, direction: "output"|"input"} for a link dragged from a slot
 */
export function mountSearchBox(root, app) {
  const input = h("input", { type: "search", placeholder: "Search nodes…", autocomplete: "off", spellcheck: "false" });
  const hint = h("div", { class: "hint" });
  const list = h("ul", {});
  root.append(input, hint, list);
  root.hidden = true;
  let context = null;
  let results = [];
  let active = 0;

  const filterOpts = () => {
    const link = context?.link;
    if (!link) return {};
    return link.direction === "output" ? { inputType: link.slot.type } : { outputType: link.slot.type };
  };
  const render = () => {
    results = searchNodes({ ...app.defs, ...app.frontendDefs }, input.value, { ...filterOpts(), limit: MAX_RESULTS });
    active = Math.min(active, Math.max(results.length - 1, 0));
    list.replaceChildren(...results.map((def, i) => {
      const row = resultRow(def, pick);
      if (i === active) row.classList.add("active");
      return row;
    }));
    const link = context?.link;
    hint.textContent = link ? `nodes that ${link.direction === "output" ? "accept" : "give"} ${link.slot.type}` : "";
  };
  function close() {
    root.hidden = true;
    context = null;
    app.canvasElement.focus();
  }
  function pick(def) {
    const ctx = context;
    close();
    if (ctx) app.addNodeAt(def.name, ctx.graphPos, (node) => connectDragged(node, def, ctx.link));
  }
  input.addEventListener("input", () => { active = 0; render(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") active = Math.min(active + 1, results.length - 1);
    else if (e.key === "ArrowUp") active = Math.max(active - 1, 0);
    else if (e.key === "Enter") { if (results[active]) pick(results[active]); return; }
    else if (e.key === "Escape") { close(); return; } else return;
    e.preventDefault();
    render();
  });
  // Close on a press elsewhere (not on blur: the canvas takes focus back on pointerup).
  document.addEventListener("pointerdown", (e) => { if (!root.hidden && !root.contains(e.target)) close(); }, true);

  return {
    open({ clientX, clientY, link }) {
      const rect = app.canvasElement.getBoundingClientRect();
      context = { link, graphPos: app.canvas.ds.convertCanvasToOffset([clientX - rect.left, clientY - rect.top]) };
      root.style.left = `${Math.min(clientX, window.innerWidth - 380)}px`;
      root.style.top = `${Math.min(clientY, window.innerHeight - 360)}px`;
      root.hidden = false;
      input.value = "";
      active = 0;
      render();
      input.focus();
      setTimeout(() => input.focus(), 0);
    },
    close,
  };
}

/** Wire the new node to the slot a link was dragged from. */
function connectDragged(node, def, link) {
  if (!link) return;
  if (link.direction === "output") {
    const target = firstAcceptingInput(def, link.slot.type);
    const from = link.node.outputs.indexOf(link.slot);
    if (target >= 0 && from >= 0) link.node.connect(from, node, target);
  } else {
    const source = firstProvidingOutput(def, link.slot.type);
    const to = link.node.inputs.indexOf(link.slot);
    if (source >= 0 && to >= 0) node.connect(source, link.node, to);
  }
}
