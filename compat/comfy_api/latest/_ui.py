"""`comfy_api.latest.ui`: UI results and image saving (see `comfy_core.images.ui_outputs`)."""

from comfy_core.images.ui_outputs import *  # noqa: F403
from comfy_core.images.ui_outputs import __all__  # noqa: F401
