"""Switching ComfyUI's plugin interface on: the facade folder on sys.path, the plugin host
bound, and every facade imported before the first pack (COMPAT-PLUGINS 0.1).

The facades live together in `compat/` at the repository root (DESIGN "Growing into the
ecosystem"). Packs import them under ComfyUI's top-level names, so that folder goes on
sys.path once, right after the repository root. They are imported by name here (never
statically) because the model-side ones import torch: the engine half stays torch-free and
the start-up thread, which already builds the nodes and torch, preloads them.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from comfy_core.runtime.plugin_host import PluginHost, bind_host

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COMPAT_DIR = ROOT / "compat"

# Facades that import no torch: safe for prestartup scripts and the engine half.
ENGINE_FACADES = (
    "folder_paths", "comfy.options", "comfy.cli_args", "comfy.comfy_types",
    "comfy.comfy_types.node_typing", "protocol", "server",
    "comfy_execution.graph_utils", "comfy_execution.graph", "comfy_api.feature_flags",
    "comfy_api.latest", "comfy_api.v0_0_2",
)
# Facades over the model stack (torch): imported on the start-up thread after the nodes.
MODEL_FACADES = (
    "nodes", "comfy.utils", "comfy.model_management", "comfy.k_diffusion.sampling",
    "comfy.samplers", "comfy.sample", "comfy.sampler_helpers", "comfy.controlnet",
    "comfy.diffusers_convert", "comfy.model_sampling", "comfy.model_patcher", "comfy.patcher_extension",
    "comfy.model_base", "comfy.model_detection", "comfy.latent_formats", "comfy.lora", "comfy.weight_adapter",
    "comfy.ops", "comfy.float", "comfy.sd", "comfy.hooks", "comfy.cldm.cldm", "comfy.taesd.taesd",
    "comfy.ldm.util", "comfy.ldm.modules.attention", "comfy.ldm.modules.diffusionmodules.openaimodel",
    "comfy.ldm.modules.diffusionmodules.util", "comfy.ldm.modules.distributions.distributions",
    "comfy.ldm.flux.math", "comfy.ldm.lumina.model", "comfy_extras.chainner_models.model_loading",
    "comfy.sd1_clip", "comfy.sdxl_clip", "comfy.clip_vision", "comfy.conds",
    "node_helpers", "latent_preview",
    "execution", "comfy_api.latest._ui",
) + tuple(f"comfy_extras.{p.stem}" for p in sorted((COMPAT_DIR / "comfy_extras").glob("nodes_*.py")))
# ComfyUI's top-level names (COMPAT-PLUGINS 0.4) that a pack must not claim as its own.
RESERVED_NAMES = frozenset(
    {name.split(".")[0] for name in ENGINE_FACADES + MODEL_FACADES}
    | {"comfy", "comfy_extras", "comfy_execution", "comfy_api", "execution", "node_helpers",
       "latent_preview", "main", "utils", "app", "api_server", "middleware", "comfy_config",
       "comfy_api_nodes", "comfyui_version"})


def put_facades_on_path() -> None:
    """`compat/` on sys.path (once), just after the repository root when that is there."""
    entry = str(COMPAT_DIR)
    if entry in sys.path:
        return
    root = str(ROOT)
    position = sys.path.index(root) + 1 if root in sys.path else 0
    sys.path.insert(position, entry)


def enable_facades(folders: Any, settings: Any) -> PluginHost:
    """Put the facades on sys.path and bind them to this engine's folders and settings;
    returns the host, which start-up fills further (memory, registry, server)."""
    put_facades_on_path()
    return bind_host(PluginHost(folders=folders, settings=settings))


def preload_facades(*, model_side: bool) -> None:
    """Import every facade before the first pack (ComfyUI has them all in sys.modules, and
    packs reach `comfy.model_base` after importing only `comfy.samplers`). The model-side
    ones only where the model stack is loaded anyway."""
    put_facades_on_path()
    names = ENGINE_FACADES + (MODEL_FACADES if model_side else ())
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # a broken facade must not keep the built-in nodes from loading
            log.exception("ComfyUI facade module %s failed to import", name)
