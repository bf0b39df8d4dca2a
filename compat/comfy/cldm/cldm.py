"""`comfy.cldm.cldm`: the ControlNet network (the UNet encoder copy with zero
convolutions), our `ControlNetModel` under ComfyUI's name; `control_model(x=, hint=,
timesteps=, context=, y=)` gives the residuals. Built by the ControlNet loaders
(`comfy.controlnet.load_controlnet`), not from ComfyUI's constructor keywords."""

from comfy_core.models.controlnet import ControlNetModel as ControlNet  # noqa: F401
