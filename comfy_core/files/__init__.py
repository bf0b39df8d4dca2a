"""Folders for models, inputs, outputs, temp files and user data; safe path handling."""

from comfy_core.files.extra_paths import ExtraPathEntry, ExtraPathsError, read_extra_model_paths
from comfy_core.files.folders import (
    LEGACY_NAMES,
    MODEL_EXTENSIONS,
    FolderPaths,
    FolderSpec,
    split_annotation,
)
from comfy_core.files.safe import (
    UnsafePathError,
    check_name,
    check_subfolder,
    contained_join,
    is_within,
)
from comfy_core.files.save_path import expand_prefix_vars, next_counter, save_image_path

__all__ = [
    "ExtraPathEntry", "ExtraPathsError", "FolderPaths", "FolderSpec", "LEGACY_NAMES",
    "MODEL_EXTENSIONS", "UnsafePathError", "check_name", "check_subfolder", "contained_join",
    "expand_prefix_vars", "is_within", "next_counter", "read_extra_model_paths",
    "save_image_path", "split_annotation",
]
