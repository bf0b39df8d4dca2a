"""The model, input, output, temp and user folders of one server (COMPAT 8.1).

A FolderPaths is built once from Settings and handed down. Its folder table is kept in
ComfyUI's `folder_names_and_paths` shape (`{key: ([path, ...], {".ext", ...})}`) because
plugins mutate that very dict through the `folder_paths` facade (new keys, appended paths,
extensions): every listing here reads the table at call time, so what a plugin registers is
what our loaders and /object_info see, and the reverse. The file-list cache is keyed by the
folder's paths, extensions and the mtimes of every directory walked.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from comfy_core.files.atomic import is_partial_name
from comfy_core.files.extra_paths import ExtraPathEntry
from comfy_core.files.safe import UnsafePathError, contained_join
from comfy_core.files.save_path import save_image_path

log = logging.getLogger(__name__)

MODEL_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl",
                              ".sft"})
DIFFUSERS_MARKER = "model_index.json"
LEGACY_NAMES = {"clip": "text_encoders", "unet": "diffusion_models"}
ANNOTATIONS = ("input", "output", "temp")

# folder key -> (sub-directories of models/, extensions). An empty extension set accepts
# every file; {""} accepts only extension-less files.
_MODEL_FOLDERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "checkpoints": (("checkpoints",), MODEL_EXTENSIONS),
    "configs": (("configs",), frozenset({".yaml"})),
    "loras": (("loras",), MODEL_EXTENSIONS),
    "vae": (("vae",), MODEL_EXTENSIONS),
    "text_encoders": (("text_encoders", "clip"), MODEL_EXTENSIONS),
    "diffusion_models": (("unet", "diffusion_models"), MODEL_EXTENSIONS),
    "clip_vision": (("clip_vision",), MODEL_EXTENSIONS),
    "style_models": (("style_models",), MODEL_EXTENSIONS),
    "embeddings": (("embeddings",), MODEL_EXTENSIONS),
    "diffusers": (("diffusers",), frozenset({"folder"})),
    "vae_approx": (("vae_approx",), MODEL_EXTENSIONS),
    "controlnet": (("controlnet", "t2i_adapter"), MODEL_EXTENSIONS),
    "gligen": (("gligen",), MODEL_EXTENSIONS),
    "upscale_models": (("upscale_models",), MODEL_EXTENSIONS),
    "latent_upscale_models": (("latent_upscale_models",), MODEL_EXTENSIONS),
    "hypernetworks": (("hypernetworks",), MODEL_EXTENSIONS),
    "photomaker": (("photomaker",), MODEL_EXTENSIONS),
    "classifiers": (("classifiers",), frozenset({""})),
    "model_patches": (("model_patches",), MODEL_EXTENSIONS),
    "audio_encoders": (("audio_encoders",), MODEL_EXTENSIONS),
}
_OUTPUT_EXTRA = ("checkpoints", "clip", "vae", "diffusion_models", "loras")


@dataclass(frozen=True)
class FolderSpec:
    """One folder key: its search paths in priority order and its extension filter."""

    paths: tuple[Path, ...]
    extensions: frozenset[str]


FolderTable = dict[str, tuple[list[str], set[str]]]


class FolderPaths:
    """Folder layout of one server. Build with `FolderPaths.build(...)` or `from_settings`.

    `table` is the mutable folder table (ComfyUI's shape, shared with plugins);
    `model_extensions` the one extension set the model folders share (ComfyUI's
    `supported_pt_extensions`: adding to it widens all of them)."""

    def __init__(self, folders: dict[str, FolderSpec], input_dir: Path, output_dir: Path,
                 temp_dir: Path, user_dir: Path, base_dir: Path) -> None:
        self.model_extensions: set[str] = set(MODEL_EXTENSIONS)
        self.table: FolderTable = {
            key: ([str(p) for p in spec.paths],
                  self.model_extensions if spec.extensions == MODEL_EXTENSIONS
                  else set(spec.extensions))
            for key, spec in folders.items()}
        self.base_dir = base_dir
        self.input_dir = input_dir
        self.output_dir = output_dir
        self.temp_dir = temp_dir
        self.user_dir = user_dir
        self._cache: dict[str, tuple[list[str], dict[str, float], tuple]] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, base: Path, *, input_dir: Path | None = None, output_dir: Path | None = None,
              temp_parent: Path | None = None, user_dir: Path | None = None,
              extra: list[ExtraPathEntry] | None = None) -> "FolderPaths":
        """Default layout under `base`, directory overrides, then extra_model_paths entries."""
        base = base.resolve()
        models = base / "models"
        folders = {key: FolderSpec(tuple(models / d for d in dirs), exts)
                   for key, (dirs, exts) in _MODEL_FOLDERS.items()}
        folders["custom_nodes"] = FolderSpec((base / "custom_nodes",), frozenset())
        out = (output_dir or base / "output").resolve()
        for sub in _OUTPUT_EXTRA:
            key = LEGACY_NAMES.get(sub, sub)
            spec = folders[key]
            folders[key] = FolderSpec(spec.paths + (out / sub,), spec.extensions)
        for entry in extra or []:
            folders = _with_extra(folders, entry)
        return cls(folders, (input_dir or base / "input").resolve(), out,
                   ((temp_parent or base) / "temp").resolve(),
                   (user_dir or base / "user").resolve(), base)

    @classmethod
    def from_settings(cls, settings) -> "FolderPaths":  # settings: comfy_core.settings.Settings
        from comfy_core.files.extra_paths import read_extra_model_paths

        extra: list[ExtraPathEntry] = []
        for cfg in settings.extra_model_paths_config:
            extra.extend(read_extra_model_paths(cfg))
        return cls.build(settings.base_directory, input_dir=settings.input_directory,
                         output_dir=settings.output_directory,
                         temp_parent=settings.temp_directory,
                         user_dir=settings.user_directory, extra=extra)

    def folder_names(self) -> list[str]:
        return list(self.table)

    def _spec(self, name: str) -> FolderSpec:
        key = LEGACY_NAMES.get(name, name)
        entry = self.table.get(key)
        if entry is None:
            raise KeyError(f"unknown model folder {name!r}; known: {sorted(self.table)}")
        paths, extensions = entry[0], entry[1]
        return FolderSpec(tuple(Path(p) for p in paths),
                          frozenset(str(e).lower() for e in (extensions or ())))

    def has_folder(self, name: str, *, legacy: bool = True) -> bool:
        return (LEGACY_NAMES.get(name, name) if legacy else name) in self.table

    def add_folder_path(self, name: str, path: str | Path, *, is_default: bool = False) -> None:
        """Add a search path to a folder key (front when `is_default`, moving it if present;
        never twice). A new key accepts every file (ComfyUI's add_model_folder_path)."""
        key = LEGACY_NAMES.get(name, name)
        path = str(path)
        entry = self.table.get(key)
        if entry is None:
            self.table[key] = ([path], set())
            return
        paths = entry[0]
        if is_default:
            if path in paths:
                paths.remove(path)
            paths.insert(0, path)
        elif path not in paths:
            paths.append(path)

    def get_folder_paths(self, name: str) -> list[Path]:
        """Search paths of a folder key (legacy names clip/unet accepted)."""
        return list(self._spec(name).paths)

    def get_filename_list(self, name: str) -> list[str]:
        """Sorted relative names (OS separator) of matching files in every path of `name`."""
        key = LEGACY_NAMES.get(name, name)
        spec = self._spec(key)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[2] == spec and _mtimes_unchanged(cached[1]):
                return list(cached[0])
        names: set[str] = set()
        mtimes: dict[str, float] = {}
        for root in spec.paths:
            mtimes[str(root)] = _mtime(root)
            names.update(_walk(root, spec.extensions, mtimes))
        result = sorted(names)
        with self._lock:
            self._cache[key] = (result, mtimes, spec)
        return list(result)

    def get_full_path(self, name: str, filename: str) -> Path | None:
        """The first existing file `filename` under the paths of `name`, or None.

        `filename` must stay inside the folder by its own words: no absolute path, no
        '..' part. Links the operator placed in the folder (to files or folders on another
        disk) are followed, as listing follows them (COMPAT 8.1)."""
        rel = contained_name(filename)
        if rel is None:
            return None
        for root in self._spec(name).paths:
            candidate = root / rel
            if candidate.is_file():
                return candidate
        return None

    def get_full_path_or_raise(self, name: str, filename: str) -> Path:
        path = self.get_full_path(name, filename)
        if path is None:
            raise FileNotFoundError(f"model in folder {name!r} not found: {filename!r}")
        return path

    def directory_of(self, kind: str) -> Path:
        """The input, output or temp directory by its annotation/type name."""
        dirs = {"input": self.input_dir, "output": self.output_dir, "temp": self.temp_dir}
        if kind not in dirs:
            raise ValueError(f"unknown directory type {kind!r}; expected input, output or temp")
        return dirs[kind]

    def save_image_path(self, prefix: str, width: int = 0, height: int = 0, *,
                        kind: str = "output") -> tuple[Path, str, int, str, str]:
        """COMPAT 8.2 naming inside the output (or temp, for previews) directory:
        (folder, filename, counter, subfolder, prefix)."""
        return save_image_path(self.directory_of(kind), prefix, width, height)

    def annotated_path(self, name: str, default: str = "input") -> Path:
        """Resolve "x.png [output]" style names (no annotation = `default` dir) safely; the
        hidden file of an unfinished (or killed) write is never a valid name."""
        clean, kind = split_annotation(name)
        if is_partial_name(os.path.basename(clean)):
            raise ValueError(f"{clean!r} is the temporary file of an unfinished write")
        return contained_join(self.directory_of(kind or default), clean)

    def annotated_exists(self, name: str) -> bool:
        try:
            return self.annotated_path(name).is_file()
        except (UnsafePathError, ValueError):
            return False


def contained_name(filename: str) -> str | None:
    """`filename` normalised to a relative path inside its folder, or None when it names
    something else: empty, absolute, with a NUL or any '..' part."""
    if not filename or "\x00" in filename or os.path.isabs(filename) \
            or filename.startswith(("/", "\\")):
        return None
    if any(part == ".." for part in re.split(r"[\\/]+", filename)):
        return None
    clean = os.path.normpath(filename)
    return None if clean in (".", "") else clean


def split_annotation(name: str) -> tuple[str, str | None]:
    """("x.png [output]") -> ("x.png", "output"); unannotated names give (name, None)."""
    for kind in ANNOTATIONS:
        suffix = f" [{kind}]"
        if name.endswith(suffix):
            return name[: -len(suffix)], kind
    return name, None


def _with_extra(folders: dict[str, FolderSpec], entry: ExtraPathEntry) -> dict[str, FolderSpec]:
    key = LEGACY_NAMES.get(entry.folder, entry.folder)
    spec = folders.get(key, FolderSpec((), frozenset()))
    paths = ((entry.path,) + spec.paths) if entry.is_default else (spec.paths + (entry.path,))
    return {**folders, key: FolderSpec(paths, spec.extensions)}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _mtimes_unchanged(mtimes: dict[str, float]) -> bool:
    return all(_mtime(Path(p)) == m for p, m in mtimes.items())


def _matches(filename: str, extensions: frozenset[str]) -> bool:
    if not extensions:
        return True
    ext = os.path.splitext(filename)[1].lower()
    return ext in extensions


def _walk(root: Path, extensions: frozenset[str], mtimes: dict[str, float]) -> list[str]:
    """Relative names under `root` (following symlinks, skipping .git), recording dir mtimes."""
    if not root.is_dir():
        return []
    found: list[str] = []
    want_dirs = extensions == frozenset({"folder"})
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # symlink loop
            dirnames.clear()
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if d != ".git"]
        mtimes[dirpath] = _mtime(Path(dirpath))
        rel = os.path.relpath(dirpath, root)
        if want_dirs:
            if DIFFUSERS_MARKER in filenames and rel != ".":
                found.append(rel)
            continue
        for f in filenames:  # isfile: a dangling link is not a model
            if _matches(f, extensions) and os.path.isfile(os.path.join(dirpath, f)):
                found.append(f if rel == "." else os.path.join(rel, f))
    return found
