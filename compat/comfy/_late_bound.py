"""Late binding of ComfyUI's per-step functions (COMPAT-PLUGINS 0.3). Packs assign
`comfy.samplers.sampling_function` (or `calc_cond_batch`, `cfg_function`) and expect the
core's next step to call their function, and restore the original afterwards. The facade
module gets a module class whose attribute assignment tells the plugin host (the engine's
declared hook, `comfy_core.runtime.plugin_host.replaced_step_function`); assigning the
original back clears the entry, so the plain path returns."""

from __future__ import annotations

import sys
import types
from typing import Any, Iterable

from comfy_core.runtime.plugin_host import plugin_host_or_none


def declare_late_bound(module_name: str, names: Iterable[str]) -> None:
    """Make assignments to `names` on module `module_name` reach the sampling step."""
    module = sys.modules[module_name]
    originals = {name: getattr(module, name) for name in names}

    class LateBoundModule(types.ModuleType):
        """A facade module that reports replacements of its late-bound functions."""

        def __setattr__(self, name: str, value: Any) -> None:
            super().__setattr__(name, value)
            if name in originals:
                _record(name, value, originals[name])

        def __delattr__(self, name: str) -> None:
            super().__delattr__(name)
            if name in originals:
                _record(name, originals[name], originals[name])

    module.__class__ = LateBoundModule


def _record(name: str, value: Any, original: Any) -> None:
    host = plugin_host_or_none()
    if host is None:
        return
    if value is original:
        host.replaced_steps.pop(name, None)
    else:
        host.replaced_steps[name] = value
