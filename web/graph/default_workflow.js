/**
 * The graph a first start shows: the canonical text-to-image pipeline of COMPAT 3.1
 * (checkpoint, two prompts, empty latent, KSampler, VAE decode, save), with the first
 * checkpoint the server lists and a randomised seed. Pure.
 *
 * The built-in demo checkpoint (models/checkpoints/demo/shapes-sd1-tiny.safetensors, a
 * tiny SD1-layout model of coloured shapes) is preferred when listed, so a fresh clone
 * makes a picture with one click; it gets a prompt it can draw, 64x64 (its training
 * size) and cfg 6. Any other checkpoint keeps the 512x512 defaults.
 */
import { promptToWorkflow } from "./from_prompt.js";

export const DEFAULT_POSITIVE = "a watercolor painting of a lighthouse on a cliff at sunrise, soft light";
export const DEFAULT_NEGATIVE = "blurry, low quality, watermark, text";
export const DEMO_CHECKPOINT = "shapes-sd1-tiny.safetensors";
export const DEMO_SETTINGS = { positive: "a red circle on a blue background", negative: "", size: 64, cfg: 6 };
const STANDARD_SETTINGS = { positive: DEFAULT_POSITIVE, negative: DEFAULT_NEGATIVE, size: 512, cfg: 8 };

/** Whether a ckpt_name (with either path separator) is the built-in demo model. */
export function isDemoCheckpoint(name) {
  return typeof name === "string" && name.split(/[\\/]/).pop() === DEMO_CHECKPOINT;
}

/** The canonical txt2img API prompt; `ckptName` fills CheckpointLoaderSimple. */
export function defaultPrompt(ckptName) {
  const s = isDemoCheckpoint(ckptName) ? DEMO_SETTINGS : STANDARD_SETTINGS;
  return {
    3: { class_type: "KSampler", inputs: {
      seed: 0, steps: 20, cfg: s.cfg, sampler_name: "euler", scheduler: "normal", denoise: 1,
      model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["5", 0] } },
    4: { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckptName } },
    5: { class_type: "EmptyLatentImage", inputs: { width: s.size, height: s.size, batch_size: 1 } },
    6: { class_type: "CLIPTextEncode", inputs: { text: s.positive, clip: ["4", 1] } },
    7: { class_type: "CLIPTextEncode", inputs: { text: s.negative, clip: ["4", 1] } },
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
  const ckpt = choices?.find(isDemoCheckpoint) ?? choices?.[0] ?? "";
  const workflow = promptToWorkflow(defaultPrompt(ckpt), defs, { controlMode: "randomize" });
  const titles = { 6: "Positive prompt", 7: "Negative prompt" };
  for (const node of workflow.nodes) {
    if (titles[node.id]) node.title = titles[node.id];
  }
  return workflow;
}
