/**
 * A full-window viewer for output images: opened by double-clicking a node that shows
 * images (or from plugins via `app.showImages`); arrows step through a batch, Escape or a
 * click outside closes it.
 */
import { h } from "./dom.js";

export function mountImageViewer(root, app) {
  const img = h("img", { alt: "" });
  const caption = h("span", {});
  let images = [];
  let index = 0;
  const show = () => {
    img.src = images[index].src;
    caption.textContent = `${index + 1} / ${images.length}  ${decodeURIComponent(new URL(img.src, location.href).searchParams.get("filename") ?? "")}`;
  };
  const step = (d) => { index = (index + d + images.length) % images.length; show(); };
  const close = () => { root.hidden = true; };
  root.append(img, h("div", { class: "bar" },
    h("button", { class: "small", onclick: (e) => { e.stopPropagation(); step(-1); } }, "‹"), caption,
    h("button", { class: "small", onclick: (e) => { e.stopPropagation(); step(1); } }, "›"),
    h("a", { class: "small", target: "_blank", onclick: (e) => { e.stopPropagation(); e.currentTarget.href = img.src; } }, "open")));
  root.addEventListener("click", (e) => { if (e.target === root) close(); });
  window.addEventListener("keydown", (e) => {
    if (root.hidden) return;
    if (e.key === "Escape") close();
    else if (e.key === "ArrowRight") step(1);
    else if (e.key === "ArrowLeft") step(-1);
  });
  app.showImages = (list, start = 0) => {
    images = list.filter((i) => i?.src);
    if (!images.length) return;
    index = Math.min(start, images.length - 1);
    show();
    root.hidden = false;
  };
}
