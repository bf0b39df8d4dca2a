/**
 * Image inputs (LoadImage and any combo with image_upload): the chosen input file is shown
 * inside the node, and a file can be uploaded with the button, by dropping it on the node
 * or by pasting it while the node is selected. The upload lands in the input folder and
 * becomes the combo's value.
 */

function uploadCombo(node) {
  const button = node.widgets?.find((w) => w.type === "button" && w.name === "upload");
  if (!button) return null;
  return node.widgets.find((w) => w.inputDef?.options.image_upload) ?? node.widgets[node.widgets.indexOf(button) - 1];
}

/** The folder a combo's plain names live in: its image_folder (LoadImageOutput: output). */
function comboFolder(combo) {
  return combo.inputDef?.options.image_folder ?? "input";
}

/** The view record of a combo value: "sub/name.png", or annotated "name.png [output]". */
export function imageRecord(value, folder = "input") {
  const annotated = /^(.*) \[(input|output|temp)\]$/.exec(String(value ?? ""));
  const text = annotated ? annotated[1] : String(value ?? "");
  const slash = text.lastIndexOf("/");
  return { filename: text.slice(slash + 1), subfolder: slash < 0 ? "" : text.slice(0, slash), type: annotated?.[2] ?? folder };
}

function showInputPreview(app, node, combo) {
  if (!combo.value) return;
  const img = new Image();
  img.onload = () => app.markDirty();
  img.src = app.api.viewURL(imageRecord(combo.value, comboFolder(combo)), { preview: "webp;90" });
  node.inputPreviews = [img];
}

/** Upload `file` and select it in `node`'s image combo. */
export async function uploadToNode(app, node, file) {
  const combo = uploadCombo(node);
  if (!combo) return false;
  try {
    const uploaded = await app.api.uploadImage(file);
    const path = uploaded.subfolder ? `${uploaded.subfolder}/${uploaded.name}` : uploaded.name;
    // uploads land in the input folder: annotated where the combo lists another folder
    const name = comboFolder(combo) === "input" ? path : `${path} [input]`;
    if (!combo.options.values.includes(name)) combo.options.values.push(name);
    combo.value = name;
    combo.callback?.(name);
    app.graph._version += 1;
    app.checkpoint?.();
  } catch (error) {
    app.notify(`Upload failed: ${error.message}`);
  }
  return true;
}

function nodeUnder(app, event) {
  const rect = app.canvasElement.getBoundingClientRect();
  const [x, y] = app.canvas.ds.convertCanvasToOffset([event.clientX - rect.left, event.clientY - rect.top]);
  return app.graph.getNodeOnPos(x, y);
}

export const imageUploadExtension = {
  name: "core.image_upload",
  nodeCreated(node, app) {
    const combo = uploadCombo(node);
    if (!combo) return;
    const callback = combo.callback;
    combo.callback = (value) => {
      callback?.call(combo, value);
      showInputPreview(app, node, combo);
    };
    queueMicrotask(() => showInputPreview(app, node, combo));
  },
  loadedGraphNode(node, app) {
    const combo = uploadCombo(node);
    if (combo) showInputPreview(app, node, combo);
  },
  setup(app) {
    app.uploadToNode = (node, file) => uploadToNode(app, node, file);
    app.dropOnNode = async (file, event) => {
      if (!file.type.startsWith("image/")) return false;
      const node = nodeUnder(app, event);
      return node && uploadCombo(node) ? uploadToNode(app, node, file) : false;
    };
    document.addEventListener("paste", async (e) => {
      const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
      const node = Object.values(app.canvas.selected_nodes ?? {}).find((n) => uploadCombo(n));
      if (!file || !node) return;
      e.preventDefault();
      await uploadToNode(app, node, file);
    });
  },
};
