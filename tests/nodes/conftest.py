"""Fixtures for node tests: a real FolderPaths under tmp_path installed as the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.settings import Settings


def _install(tmp_path: Path, **settings) -> runtime.AppContext:
    folders = FolderPaths.build(tmp_path)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    return runtime.AppContext(folders=folders, settings=Settings(base_directory=tmp_path,
                                                                 **settings))


@pytest.fixture
def app(tmp_path):
    """The running app for node code: folders under tmp_path, default settings."""
    ctx = _install(tmp_path)
    with runtime.use_app(ctx):
        yield ctx


@pytest.fixture
def app_no_metadata(tmp_path):
    ctx = _install(tmp_path, disable_metadata=True)
    with runtime.use_app(ctx):
        yield ctx
