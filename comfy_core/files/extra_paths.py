"""Reader for extra_model_paths.yaml (COMPAT 8.1): more search paths per folder key.

Each top-level section may set `base_path` (env vars and ~ expanded, relative to the yaml's
directory) and `is_default` (search these first); every other key names a folder whose value
holds one or more newline-separated paths.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


class ExtraPathsError(ValueError):
    """The extra_model_paths file is unreadable or not shaped as documented."""


@dataclass(frozen=True)
class ExtraPathEntry:
    folder: str
    path: Path
    is_default: bool = False


def _expand(raw: str) -> str:
    return os.path.expanduser(os.path.expandvars(raw.strip()))


def read_extra_model_paths(config: Path) -> list[ExtraPathEntry]:
    """Parse one yaml file into entries, in file order. Raises ExtraPathsError when broken."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExtraPathsError(f"cannot read extra model paths {config}: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ExtraPathsError(f"{config}: top level must be a mapping of sections")
    yaml_dir = config.resolve().parent
    entries: list[ExtraPathEntry] = []
    for section, conf in data.items():
        if conf is None:
            continue
        if not isinstance(conf, dict):
            raise ExtraPathsError(f"{config}: section {section!r} must be a mapping")
        entries.extend(_section_entries(dict(conf), yaml_dir, config))
    return entries


def _section_entries(conf: dict, yaml_dir: Path, config: Path) -> list[ExtraPathEntry]:
    base = conf.pop("base_path", None)
    base_path = None
    if base is not None:
        base_path = Path(_expand(str(base)))
        if not base_path.is_absolute():
            base_path = yaml_dir / base_path
    is_default = bool(conf.pop("is_default", False))
    out: list[ExtraPathEntry] = []
    for folder, value in conf.items():
        if not isinstance(value, (str, int, float)):
            log.warning("%s: ignoring %r: value must be a path or newline-separated paths",
                        config, folder)
            continue
        for line in str(value).split("\n"):
            if not line.strip():
                continue
            path = Path(_expand(line))
            if not path.is_absolute():
                path = (base_path or yaml_dir) / path
            out.append(ExtraPathEntry(str(folder), Path(os.path.normpath(path)), is_default))
    return out
