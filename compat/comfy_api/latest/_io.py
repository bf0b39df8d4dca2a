"""`comfy_api.latest.io`: the V3 schema types (see `comfy_core.registry.v3.io`)."""

from comfy_core.registry.v3.io import *  # noqa: F403
from comfy_core.registry.v3.io import __all__  # noqa: F401
