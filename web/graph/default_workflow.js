/**
 * The graph a first start shows: the canonical text-to-image pipeline of COMPAT 3.1
 * (checkpoint, two prompts, empty latent, KSampler, VAE decode, save), with the first
 * checkpoint the server lists and a randomised seed. Pure.
 */
import { promptToWorkflow } from "./from_prompt.js";

export const DEFAULT_POSITIVE = "a watercolor painting of a lighthouse on a cliff at sunrise, soft light";
export const DEFAULT_NEGATIVE = "blurry, low quality, watermark, text";

/** The canonical txt2img API prompt; `ckptName` fills CheckpointLoaderSimple. */
export function defaultPrompt(ckptName) {
  return {
    3: { class_type: "KSampler", inputs: {
      seed: 0, steps: 20, cfg: 8, sampler_name: "euler", scheduler: "normal", denoise: 1,
      model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["5", 0] } },
    4: { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckptName } },
    5: { class_type: "EmptyLatentImage", inputs: { width: 512, height: 512, batch_size: 1 } },
    6: { class_type: "CLIPTextEncode", inputs: { text: DEFAULT_POSITIVE, clip: ["4", 1] } },
    7: { class_type: "CLIPTextEncode", inputs: { text: DEFAULT_NEGATIVE, clip: ["4", 1] } },
    8: { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    9: { class_type: "SaveImage", inputs: { filename_prefix: "ComfyUI", images: ["8", 0] } },
  };
}

/**
 * The default workflow for the node definitions `defs`.
 * @param {Object<string, import("./node_defs.js").NodeDef>} defs
 * @returns {object} UI workflow JSON
 */
export function defaultWorkflow(defs) {
  const choices = defs.CheckpointLoaderSimple?.inputs.find((i) => i.name === "ckpt_name")?.options.values;
  const workflow = promptToWorkflow(defaultPrompt(choices?.[0] ?? ""), defs, { controlMode: "randomize" });
  const titles = { 6: "Positive prompt", 7: "Negative prompt" };
  for (const node of workflow.nodes) {
    if (titles[node.id]) node.title = titles[node.id];
  }
  return workflow;
}
