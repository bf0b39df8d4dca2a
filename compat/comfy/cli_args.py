"""`comfy.cli_args`: ComfyUI's `args` namespace and its enums, over our Settings.

`args` is made once per plugin host from the server's Settings, with ComfyUI's attribute
names and defaults for flags we do not have. It is a plain mutable namespace because packs
assign to it (`args.preview_method = ...`, `args.fast.add(...)`); the facades that ComfyUI
reads it from at call time (`latent_preview.get_previewer`) read it the same way here.
Without a bound host (a pack imported outside any server) it holds the defaults.
"""

from __future__ import annotations

import argparse
import enum
from typing import Any

from comfy_core.runtime.plugin_host import plugin_host_or_none


class LatentPreviewMethod(enum.Enum):
    NoPreviews = "none"
    Auto = "auto"
    Latent2RGB = "latent2rgb"
    TAESD = "taesd"

    @classmethod
    def from_string(cls, value: str) -> "LatentPreviewMethod | None":
        for member in cls:
            if member.value == value:
                return member
        return None


class PerformanceFeature(enum.Enum):
    Fp16Accumulation = "fp16_accumulation"
    Fp8MatrixMultiplication = "fp8_matrix_mult"
    CublasOps = "cublas_ops"
    AutoTune = "autotune"


# ComfyUI flags we have no counterpart for, at ComfyUI's defaults.
_COMFY_DEFAULTS: dict[str, Any] = {
    "auto_launch": False, "disable_auto_launch": False, "cuda_device": None,
    "default_device": None, "cuda_malloc": False, "disable_cuda_malloc": False,
    "force_upcast_attention": False, "dont_upcast_attention": False,
    "force_channels_last": False, "directml": None, "oneapi_device_selector": None,
    "disable_ipex_optimize": False, "supports_fp8_compute": False,
    "fp8_e4m3fn_unet": False, "fp8_e5m2_unet": False, "fp8_e8m0fnu_unet": False,
    "fp8_e4m3fn_text_enc": False, "fp8_e5m2_text_enc": False, "fp16_text_enc": False,
    "fp32_text_enc": False, "bf16_text_enc": False, "use_split_cross_attention": False,
    "use_quad_cross_attention": False, "use_pytorch_cross_attention": False,
    "use_sage_attention": False, "use_flash_attention": False, "disable_xformers": False,
    "async_offload": None, "disable_pinned_memory": False, "default_hashing_function": "sha256",
    "deterministic": False, "fast": set(), "mmap_torch_files": False, "disable_mmap": False,
    "dont_print_server": False, "quick_test_for_ci": False, "windows_standalone_build": False,
    "disable_api_nodes": False, "multi_user": False, "log_stdout": False,
    "front_end_version": "comfyanonymous/ComfyUI@latest", "front_end_root": None,
    "enable_compress_response_body": False, "comfy_api_base": "https://api.comfy.org",
    "database_url": None, "cache_none": False,
}


def args_from_settings(settings: Any) -> argparse.Namespace:
    """ComfyUI's `args` for our Settings (the defaults when `settings` is None)."""
    from comfy_core.settings import Settings

    s = settings if settings is not None else Settings()
    values = dict(_COMFY_DEFAULTS, fast=set())
    values.update({f: getattr(s.memory, f) for f in s.memory.__dataclass_fields__})
    values.update(
        listen=",".join(s.listen), port=s.port, tls_keyfile=_str(s.tls_keyfile),
        tls_certfile=_str(s.tls_certfile), enable_cors_header=s.cors_origin,
        max_upload_size=s.max_upload_size_mb, base_directory=str(s.base_directory),
        extra_model_paths_config=[str(p) for p in s.extra_model_paths_config] or None,
        output_directory=_str(s.output_directory), temp_directory=_str(s.temp_directory),
        input_directory=_str(s.input_directory), user_directory=_str(s.user_directory),
        preview_method=LatentPreviewMethod.from_string(s.preview_method)
        or LatentPreviewMethod.NoPreviews,
        preview_size=s.preview_size, cache_classic=s.cache_kind == "classic",
        cache_lru=s.cache_lru_size, cache_ram=s.cache_ram_gb if s.cache_kind == "ram" else 0,
        cache_none=s.cache_kind == "none", disable_metadata=s.disable_metadata,
        disable_all_custom_nodes=s.disable_all_custom_nodes,
        whitelist_custom_nodes=sorted(s.whitelist_custom_nodes or ()),
        verbose="DEBUG" if s.verbose else "INFO", reserve_vram=s.memory.reserve_vram,
        enable_manager=s.enable_manager, enable_manager_legacy_ui=s.enable_manager_legacy_ui,
        disable_manager_ui=s.disable_manager_ui)
    return argparse.Namespace(**values)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


_defaults: list[argparse.Namespace] = []  # used only while no host is bound


def __getattr__(name: str) -> Any:
    if name != "args":
        raise AttributeError(f"module 'comfy.cli_args' has no attribute {name!r}")
    host = plugin_host_or_none()
    if host is None:
        if not _defaults:
            _defaults.append(args_from_settings(None))
        return _defaults[0]
    if host.args is None:
        host.args = args_from_settings(host.settings)
    return host.args
