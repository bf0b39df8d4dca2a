/**
 * The two DOM helpers of ComfyUI's old `scripts/ui.js` that plugin scripts still import:
 * `$el(tag, props?, children?)` builds an element ("div.a.b#id" tags; props are element
 * properties, with `style`/`dataset` objects, `parent` to append to, `$` called with the
 * element) and `ComfyDialog`, a closable modal with `show(content)` / `close()`.
 */

export function $el(tag, propsOrChildren, maybeChildren) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const element = document.createElement(name || "div");
  for (const part of rest) {
    if (part.startsWith(".")) element.classList.add(part.slice(1));
    else element.id = part.slice(1);
  }
  const isChildren = Array.isArray(propsOrChildren) || typeof propsOrChildren === "string"
    || propsOrChildren instanceof Node;
  const props = isChildren ? {} : { ...(propsOrChildren ?? {}) };
  const children = isChildren ? propsOrChildren : maybeChildren;
  const { parent, $: onCreated, style, dataset, ...plain } = props;
  Object.assign(element, plain);
  if (style) Object.assign(element.style, style);
  if (dataset) Object.assign(element.dataset, dataset);
  for (const child of [children ?? []].flat()) {
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  parent?.append(element);
  onCreated?.(element);
  return element;
}

export class ComfyDialog {
  constructor(type = "div") {
    this.textElement = $el("div.comfy-modal-text");
    this.element = $el(`${type}.comfy-modal`, { parent: document.body }, [
      $el("div.comfy-modal-content", [this.textElement, ...this.createButtons()]),
    ]);
    this.element.hidden = true;
  }

  createButtons() {
    return [$el("button", { type: "button", textContent: "Close", onclick: () => this.close() })];
  }

  close() {
    this.element.hidden = true;
  }

  show(content) {
    this.textElement.replaceChildren(...(typeof content === "string"
      ? [Object.assign(document.createElement("div"), { innerHTML: content })] : [content].flat()));
    this.element.hidden = false;
  }
}
