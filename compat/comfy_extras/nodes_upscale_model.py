"""`comfy_extras.nodes_upscale_model`: ComfyUI's upscale-model nodes (our built-in classes;
`ImageUpscaleWithModel.upscale(model, image)` and `UpscaleModelLoader.load_model(name)`)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
