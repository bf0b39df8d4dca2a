// ComfyUI's plugin module path: `import { $el, ComfyDialog } from "../../scripts/ui.js"`.
export const $el = window.comfyAPI.ui.$el;
export const ComfyDialog = window.comfyAPI.ui.ComfyDialog;
