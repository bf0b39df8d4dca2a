// ComfyUI's plugin module path: `import { api } from "../../scripts/api.js"` (core/plugin_api.js).
export const api = window.comfyAPI.api.api;
export const ComfyApi = window.comfyAPI.api.ComfyApi;
