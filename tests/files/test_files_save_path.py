"""Output naming (COMPAT 8.2) and the safe-name helpers used by /view and uploads."""

import os
import time

import pytest

from comfy_core.files import (
    FolderPaths,
    UnsafePathError,
    check_name,
    check_subfolder,
    contained_join,
    expand_prefix_vars,
    save_image_path,
)


def test_counter_starts_at_one_and_creates_folder(tmp_path):
    folder, name, counter, sub, prefix = save_image_path(tmp_path, "run/ComfyUI", 8, 8)
    assert (folder, name, counter, sub, prefix) == (tmp_path / "run", "ComfyUI", 1, "run",
                                                    "run/ComfyUI")
    assert folder.is_dir()


def test_counter_follows_existing_files(tmp_path):
    for n in ("ComfyUI_00001_.png", "ComfyUI_00007_.png", "comfyui_00009_.png",
              "ComfyUI_abc_.png", "ComfyUIx_00050_.png", "Other_00099_.png"):
        (tmp_path / n).write_bytes(b"")
    _, _, counter, _, _ = save_image_path(tmp_path, "ComfyUI")
    expected = 10 if os.path.normcase("A") == "a" else 8
    assert counter == expected


def test_prefix_vars():
    t = time.struct_time((2024, 3, 5, 7, 8, 9, 0, 0, 0))
    assert expand_prefix_vars("%year%-%month%-%day%_%hour%%minute%%second%_%width%x%height%",
                              640, 480, t) == "2024-03-05_070809_640x480"


def test_refuses_escape(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere")
    for bad in ("../x", "/abs/x", "link/x", "a/../../x", ""):
        with pytest.raises(UnsafePathError):
            save_image_path(out, bad)


def test_folderpaths_method_uses_temp_for_previews(tmp_path):
    fp = FolderPaths.build(tmp_path)
    folder, *_ = fp.save_image_path("ComfyUI_temp_abcde", 1, 1, kind="temp")
    assert folder == tmp_path / "temp"


@pytest.mark.parametrize("name", ["", "..", "a/b.png", "a\\b.png", "x..png", "/etc/passwd",
                                  "nul.png", "a\x00.png", " lead.png", "trail.png."])
def test_check_name_rejects(name):
    with pytest.raises(UnsafePathError):
        check_name(name)


def test_check_name_and_subfolder_accept():
    assert check_name("image (1).png") == "image (1).png"
    assert check_subfolder("") == ""
    assert check_subfolder("a/./b/") == os.path.join("a", "b")
    for bad in ("../a", "/abs", "a/../../b", "a\x00"):
        with pytest.raises(UnsafePathError):
            check_subfolder(bad)


def test_contained_join(tmp_path):
    assert contained_join(tmp_path, "a", "b") == tmp_path / "a" / "b"
    with pytest.raises(UnsafePathError):
        contained_join(tmp_path, "..", "x")
