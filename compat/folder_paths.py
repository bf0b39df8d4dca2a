"""`folder_paths`: ComfyUI's folder API for plugins, over the server's own
`comfy_core.files.FolderPaths` (COMPAT-PLUGINS 2).

Why module-level names: packs read `folder_paths.folder_names_and_paths`, `models_dir`,
`output_directory`, `supported_pt_extensions`, ... as attributes of this module, and some
import them by name at import time. This module keeps no state of its own: `__getattr__`
answers those names at each access from the bound plugin host, and the functions below
delegate to its FolderPaths. `folder_names_and_paths` *is* that FolderPaths' table (the same
dict), so a pack's `folder_names_and_paths["ipadapter"] = ([...], exts)` or
`add_model_folder_path(...)` is what our loaders, /models and /object_info combos list, and
the reverse. The `set_*_directory` functions move the server's own directories, as ComfyUI's
rebind its globals (names imported earlier go stale there too: use the getters).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any, Iterable

from comfy_core.files import LEGACY_NAMES, UnsafePathError
from comfy_core.runtime.plugin_host import plugin_host

_ANNOTATIONS = (("[output]", "output", 9), ("[input]", "input", 8), ("[temp]", "temp", 7))
_MODEL_SUFFIXES = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl",
                             ".sft", ".gguf", ".onnx"})
extension_mimetypes_cache = {"webp": "image", "fbx": "model"}


def _folders() -> Any:
    return plugin_host().folders


_VIEWS = {
    "folder_names_and_paths": lambda f: f.table,
    "supported_pt_extensions": lambda f: f.model_extensions,
    "base_path": lambda f: str(f.base_dir),
    "models_dir": lambda f: os.path.join(str(f.base_dir), "models"),
    "output_directory": lambda f: str(f.output_dir),
    "input_directory": lambda f: str(f.input_dir),
    "temp_directory": lambda f: str(f.temp_dir),
    "user_directory": lambda f: str(f.user_dir),
}


def __getattr__(name: str) -> Any:
    view = _VIEWS.get(name)
    if view is None:
        raise AttributeError(f"module 'folder_paths' has no attribute {name!r}")
    return view(_folders())


def map_legacy(folder_name: str) -> str:
    return LEGACY_NAMES.get(folder_name, folder_name)


# -- model folders ------------------------------------------------------------------------
def get_folder_paths(folder_name: str) -> list[str]:
    """A copy of the search paths (KeyError for an unknown folder)."""
    return [str(p) for p in _folders().get_folder_paths(folder_name)]


def add_model_folder_path(folder_name: str, full_folder_path: str,
                          is_default: bool = False) -> None:
    _folders().add_folder_path(folder_name, full_folder_path, is_default=is_default)


def get_filename_list(folder_name: str) -> list[str]:
    """Relative names (OS separator) under every path of the folder, sorted; a new list."""
    return _folders().get_filename_list(folder_name)


def _relative(filename: str) -> str:
    """Leading '/' and '..' cannot leave the folder: the name is made relative to a root."""
    return os.path.relpath(os.path.join(os.sep, str(filename).replace("/", os.sep)), os.sep)


def get_full_path(folder_name: str, filename: str) -> str | None:
    folders = _folders()
    if not folders.has_folder(folder_name):
        return None
    found = folders.get_full_path(folder_name, _relative(filename))
    return None if found is None else str(found)


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    found = get_full_path(folder_name, filename)
    if found is None:
        raise FileNotFoundError(f"Model in folder '{folder_name}' with filename '{filename}' "
                                "not found.")
    return found


def filter_files_extensions(files: Iterable[str], extensions: Iterable[str]) -> list[str]:
    """Files whose lower-case suffix is in `extensions` (all when it is empty), sorted."""
    exts = {str(e).lower() for e in extensions}
    return sorted(f for f in files if not exts or os.path.splitext(f)[-1].lower() in exts)


def recursive_search(directory: str, excluded_dir_names: list[str] | None = None
                     ) -> tuple[list[str], dict[str, float]]:
    """(relative file names, {directory: mtime}) under `directory`, following links."""
    if not os.path.isdir(directory):
        return [], {}
    excluded = set(excluded_dir_names or []) | {".git"}
    files: list[str] = []
    dirs = {directory: os.path.getmtime(directory)}
    for dirpath, subdirs, filenames in os.walk(directory, followlinks=True, topdown=True):
        subdirs[:] = [d for d in subdirs if d not in excluded]
        for name in filenames:
            files.append(os.path.relpath(os.path.join(dirpath, name), directory))
        for d in subdirs:
            path = os.path.join(dirpath, d)
            try:
                dirs[path] = os.path.getmtime(path)
            except OSError:
                continue
    return files, dirs


def filter_files_content_types(files: Iterable[str], content_types: list[str]) -> list[str]:
    """Files whose MIME major type (image, video, audio; 'model' for weight files) is listed."""
    out = []
    for name in files:
        suffix = os.path.splitext(name)[-1].lower()
        kind = extension_mimetypes_cache.get(suffix.lstrip("."))
        if kind is None:
            guessed = mimetypes.guess_type(name, strict=False)[0]
            kind = "model" if suffix in _MODEL_SUFFIXES else (guessed or "").split("/")[0]
        if kind in content_types:
            out.append(name)
    return out


class CacheHelper:
    """ComfyUI memoises listings inside `with cache_helper:`; our FolderPaths caches every
    listing by directory mtimes already, so this context manager only keeps the API."""

    def __init__(self) -> None:
        self.active = False

    def __enter__(self) -> "CacheHelper":
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any) -> None:
        return None

    def clear(self) -> None:
        return None


cache_helper = CacheHelper()


# -- input / output / temp / user ---------------------------------------------------------
def get_output_directory() -> str:
    return str(_folders().output_dir)


def get_temp_directory() -> str:
    return str(_folders().temp_dir)


def get_input_directory() -> str:
    return str(_folders().input_dir)


def get_user_directory() -> str:
    return str(_folders().user_dir)


def set_output_directory(output_dir: str) -> None:
    _folders().output_dir = Path(output_dir).resolve()


def set_temp_directory(temp_dir: str) -> None:
    _folders().temp_dir = Path(temp_dir).resolve()


def set_input_directory(input_dir: str) -> None:
    _folders().input_dir = Path(input_dir).resolve()


def set_user_directory(user_dir: str) -> None:
    _folders().user_dir = Path(user_dir).resolve()


def get_directory_by_type(type_name: str) -> str | None:
    dirs = {"output": get_output_directory, "temp": get_temp_directory,
            "input": get_input_directory}
    getter = dirs.get(type_name)
    return getter() if getter is not None else None


def get_input_subfolders() -> list[str]:
    """Every folder below the input directory, '/'-separated, sorted."""
    root = get_input_directory()
    found = []
    for dirpath, subdirs, _ in os.walk(root):
        for d in subdirs:
            found.append(os.path.relpath(os.path.join(dirpath, d), root).replace(os.sep, "/"))
    return sorted(found)


def get_system_user_directory(name: str = "system") -> str:
    """`<user>/__<name>`: storage of the server's own that no user id can reach."""
    if not name or not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"invalid system user directory name {name!r}")
    return os.path.join(get_user_directory(), f"__{name}")


def get_public_user_directory(user_id: str) -> str | None:
    """`<user>/<id>`, or None for ids reserved to the system (`__` prefix) or unsafe ones."""
    if not user_id or not isinstance(user_id, str) or user_id.startswith("__"):
        return None
    if "/" in user_id or "\\" in user_id or user_id in (".", ".."):
        return None
    return os.path.join(get_user_directory(), user_id)


# -- annotated names ("x.png [output]") -----------------------------------------------------
def annotated_filepath(name: str) -> tuple[str, str | None]:
    """(name without its tag, the tagged directory or None). The tag is removed together
    with the character before it (normally the space), as ComfyUI does."""
    for tag, kind, cut in _ANNOTATIONS:
        if name.endswith(tag):
            return name[:-cut], get_directory_by_type(kind)
    return name, None


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    name, base_dir = annotated_filepath(name)
    if base_dir is None:
        base_dir = default_dir if default_dir is not None else get_input_directory()
    return os.path.join(base_dir, name)


def exists_annotated_filepath(name: str) -> bool:
    return os.path.exists(get_annotated_filepath(name))


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0,
                        image_height: int = 0) -> tuple[str, str, int, str, str]:
    """(full_output_folder, filename, counter, subfolder, filename_prefix) in `output_dir`;
    a prefix that would leave it raises (COMPAT 8.2)."""
    from comfy_core.files import save_image_path

    try:
        folder, filename, counter, subfolder, prefix = save_image_path(
            Path(output_dir).resolve(), filename_prefix, image_width, image_height)
    except UnsafePathError as exc:
        raise Exception(f"Saving image outside the output folder is not allowed. {exc}") from exc
    return str(folder), filename, counter, subfolder, prefix
