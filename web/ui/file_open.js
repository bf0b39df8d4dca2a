/**
 * Opening files: a workflow or API prompt as JSON, or a PNG with an embedded graph, from
 * the file picker or dropped anywhere on the page; images dropped on (or pasted into) a node
 * with an upload button go to that node instead (extensions/core/image_upload.js).
 */
import { isPng, graphFromPng } from "../graph/png_metadata.js";

/** Whether `file` is something we try to open as a graph. */
export function isGraphFile(file) {
  return file.type === "application/json" || file.name.endsWith(".json") || file.type === "image/png" || file.name.endsWith(".png");
}

/**
 * Read the graph in `file`: UI workflow first, else an API prompt.
 * @throws {Error} naming the file when it holds no graph
 */
export async function readGraphFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (isPng(bytes)) {
    const { workflow, prompt } = await graphFromPng(bytes);
    if (workflow) return workflow;
    if (prompt) return prompt;
    throw new Error(`${file.name} holds no workflow (no 'workflow' or 'prompt' text chunk)`);
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Open `file` in a new tab named after it; problems go to the error dialog. */
export async function openGraphFile(app, file) {
  try {
    const graph = await readGraphFile(file);
    app.openWorkflow(graph, { name: file.name.replace(/\.(json|png)$/i, "") });
  } catch (error) {
    app.store.update({ promptError: { message: `Could not open ${file.name}`, details: error.message } });
  }
}

/** Install the page-wide drop target; `dropOnNode(file, event)` may claim image drops. */
export function installFileDrop(app, dropOnNode) {
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", async (e) => {
    const file = e.dataTransfer?.files?.[0];
    if (!file) return;
    e.preventDefault();
    if (await dropOnNode(file, e)) return;
    if (isGraphFile(file)) await openGraphFile(app, file);
    else app.notify(`Cannot open ${file.name}: not a workflow JSON or PNG`);
  });
}
