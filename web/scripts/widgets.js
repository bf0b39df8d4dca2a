// ComfyUI's plugin module path: `import { ComfyWidgets } from "../../scripts/widgets.js"`.
export const ComfyWidgets = window.comfyAPI.widgets.ComfyWidgets;
