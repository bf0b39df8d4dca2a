/**
 * The start-up graph for ComfyUI's own frontend (and any other frontend the server is
 * given), served as /extensions/comfy_core/comfy_core_extension/startup_graph.js. It is
 * the extension the server adds beside plugin scripts; our own editor has the same graph
 * built in and does not load it.
 *
 * The frontend shows its built-in default graph when nothing of the user's is open, and a
 * newer frontend's default is a model family this server may not have, so a first Run
 * would fail. Through the extension API (`init`, before the frontend opens any workflow):
 *   1. the frontend's default graph (window.comfyAPI.defaultGraph, the object its
 *      "Load Default Workflow" and start-up read) becomes this server's default workflow:
 *      text-to-image with the demo checkpoint when it is listed, else the first checkpoint
 *      at 512x512 (the same graph as our editor's, web/graph/default_workflow.js);
 *   2. a new user (no `Comfy.TutorialCompleted` setting yet) starts on that graph rather
 *      than on a blank canvas under the template browser (which stays one click away).
 */
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { normaliseObjectInfo } from "../graph/node_defs.js";
import { defaultWorkflow } from "../graph/default_workflow.js";

/** Node classes of the default workflow: their /object_info is all it needs. */
const NODE_CLASSES = ["CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
  "VAEDecode", "SaveImage"];

async function serverDefaultWorkflow() {
  const infos = await Promise.all(NODE_CLASSES.map(async (name) => {
    const response = await api.fetchApi(`/object_info/${name}`);
    return response.ok ? response.json() : {};
  }));
  const objectInfo = Object.assign({}, ...infos);
  if (NODE_CLASSES.some((name) => !(name in objectInfo))) return null;
  return defaultWorkflow(normaliseObjectInfo(objectInfo));
}

/** Make `target` (the frontend's default graph object) a copy of `workflow`, in place. */
function replaceContents(target, workflow) {
  for (const key of Object.keys(target)) delete target[key];
  Object.assign(target, structuredClone(workflow));
}

app.registerExtension({
  name: "comfy_core.StartupGraph",
  async init() {
    const target = window.comfyAPI?.defaultGraph?.defaultGraph;
    const workflow = await serverDefaultWorkflow();
    if (!target || !workflow) {
      console.warn("[comfy_core] the frontend's default graph was left as it is");
      return;
    }
    replaceContents(target, workflow);
    const settings = app.extensionManager?.setting;
    if (settings && settings.get("Comfy.TutorialCompleted") !== true) {
      await settings.set("Comfy.TutorialCompleted", true);
    }
  },
});
