/** The strip of open workflow tabs over the canvas: switch, close, and "+" for a new one. */
import { h } from "./dom.js";

function tabButton(app, tab, active) {
  return h("div", { class: `tab${active ? " active" : ""}`, "data-tab-id": tab.id, title: tab.path ?? "not saved yet",
    onclick: () => app.workflows.switchTo(tab.id) },
  h("span", { class: "name" }, tab.name),
  h("button", { class: "close", title: "Close", onclick: (e) => { e.stopPropagation(); app.workflows.close(tab.id); } }, "×"));
}

export function mountTabsBar(root, app) {
  const render = (tabs) => {
    if (!tabs) return;
    root.replaceChildren(...tabs.tabs.map((t) => tabButton(app, t, t.id === tabs.activeId)),
      h("button", { class: "new", id: "new-tab-button", title: "New workflow tab", onclick: () => app.workflows.openNew() }, "+"));
  };
  let last = null;
  app.store.subscribe((s) => {
    if (s.tabs !== last) render(s.tabs);
    last = s.tabs;
  });
  render(app.store.state.tabs);
}
