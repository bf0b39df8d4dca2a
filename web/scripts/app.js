// ComfyUI's plugin module path: `import { app } from "../../scripts/app.js"` (core/plugin_api.js).
export const app = window.comfyAPI.app.app;
export const ComfyApp = window.comfyAPI.app.ComfyApp;
