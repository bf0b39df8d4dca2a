"""FolderPaths: layout, filename lists, containment, annotated names, extra paths."""

import os
from pathlib import Path

import pytest

from comfy_core.files import FolderPaths, UnsafePathError, read_extra_model_paths
from comfy_core.settings import parse_settings


def make(base: Path, **kw) -> FolderPaths:
    return FolderPaths.build(base, **kw)


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_filename_list_recursive_sorted_filtered(tmp_path):
    fp = make(tmp_path)
    ck = tmp_path / "models" / "checkpoints"
    touch(ck / "b.safetensors")
    touch(ck / "A.CKPT")
    touch(ck / "sub" / "c.sft")
    touch(ck / "notes.txt")
    touch(ck / ".git" / "x.safetensors")
    assert fp.get_filename_list("checkpoints") == sorted(
        ["A.CKPT", "b.safetensors", os.path.join("sub", "c.sft")])


def test_filename_list_cache_invalidated_by_new_file(tmp_path):
    fp = make(tmp_path)
    ck = tmp_path / "models" / "loras"
    touch(ck / "one.safetensors")
    assert fp.get_filename_list("loras") == ["one.safetensors"]
    touch(ck / "deep" / "two.safetensors")
    assert fp.get_filename_list("loras") == ["deep/two.safetensors".replace("/", os.sep),
                                             "one.safetensors"]


def test_legacy_names_and_output_extra_paths(tmp_path):
    fp = make(tmp_path)
    touch(tmp_path / "models" / "clip" / "te.safetensors")
    touch(tmp_path / "output" / "clip" / "saved.safetensors")
    assert fp.get_filename_list("clip") == ["saved.safetensors", "te.safetensors"]
    assert fp.get_folder_paths("unet") == fp.get_folder_paths("diffusion_models")
    assert "clip" not in fp.folder_names() and "custom_nodes" in fp.folder_names()


def test_classifiers_only_extensionless_and_diffusers_dirs(tmp_path):
    fp = make(tmp_path)
    touch(tmp_path / "models" / "classifiers" / "plain")
    touch(tmp_path / "models" / "classifiers" / "x.bin")
    touch(tmp_path / "models" / "diffusers" / "sd15" / "model_index.json", b"{}")
    touch(tmp_path / "models" / "diffusers" / "other" / "x.txt")
    assert fp.get_filename_list("classifiers") == ["plain"]
    assert fp.get_filename_list("diffusers") == ["sd15"]


def test_full_path_refuses_names_leaving_the_folder(tmp_path):
    fp = make(tmp_path / "base")
    secret = touch(tmp_path / "secret.safetensors")
    ck = tmp_path / "base" / "models" / "checkpoints"
    touch(ck / "ok.safetensors")
    assert fp.get_full_path("checkpoints", "ok.safetensors") == ck / "ok.safetensors"
    assert fp.get_full_path("checkpoints", "../../../secret.safetensors") is None
    assert fp.get_full_path("checkpoints", str(secret)) is None
    with pytest.raises(FileNotFoundError, match="nothere.safetensors"):
        fp.get_full_path_or_raise("checkpoints", "nothere.safetensors")
    with pytest.raises(KeyError, match="nope"):
        fp.get_folder_paths("nope")


def test_annotated_path(tmp_path):
    fp = make(tmp_path)
    assert fp.annotated_path("x.png") == tmp_path / "input" / "x.png"
    assert fp.annotated_path("x.png [output]") == tmp_path / "output" / "x.png"
    assert fp.annotated_path("s/x.png [temp]") == tmp_path / "temp" / "s" / "x.png"
    with pytest.raises(UnsafePathError):
        fp.annotated_path("../x.png [output]")
    assert not fp.annotated_exists("../../etc/passwd")


def test_directories_from_settings(tmp_path):
    s = parse_settings(["--base-directory", str(tmp_path), "--temp-directory",
                        str(tmp_path / "t"), "--output-directory", str(tmp_path / "o")], {})
    fp = FolderPaths.from_settings(s)
    assert fp.temp_dir == tmp_path / "t" / "temp"
    assert fp.output_dir == tmp_path / "o"
    assert fp.input_dir == tmp_path / "input" and fp.user_dir == tmp_path / "user"


def test_extra_model_paths_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELS_HOME", str(tmp_path / "a1111"))
    cfg = tmp_path / "cfg" / "extra_model_paths.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        "# comment\n"
        "a111:\n"
        "    base_path: $MODELS_HOME\n"
        "    checkpoints: models/Stable-diffusion\n"
        "    loras: |\n"
        "        models/Lora\n"
        "        models/LyCORIS\n"
        "mine:\n"
        "    is_default: true\n"
        "    vae: vaes\n"
        "    my_new_kind: stuff\n"
        "empty:\n")
    entries = read_extra_model_paths(cfg)
    assert [(e.folder, e.path, e.is_default) for e in entries] == [
        ("checkpoints", tmp_path / "a1111" / "models" / "Stable-diffusion", False),
        ("loras", tmp_path / "a1111" / "models" / "Lora", False),
        ("loras", tmp_path / "a1111" / "models" / "LyCORIS", False),
        ("vae", tmp_path / "cfg" / "vaes", True),
        ("my_new_kind", tmp_path / "cfg" / "stuff", True),
    ]
    s = parse_settings(["--base-directory", str(tmp_path), "--extra-model-paths-config",
                        str(cfg)], {})
    fp = FolderPaths.from_settings(s)
    assert fp.get_folder_paths("vae")[0] == tmp_path / "cfg" / "vaes"
    assert fp.get_folder_paths("checkpoints")[-1] == entries[0].path
    touch(tmp_path / "cfg" / "stuff" / "any.thing")
    assert fp.get_filename_list("my_new_kind") == ["any.thing"]


def test_extra_model_paths_bad_file(tmp_path):
    from comfy_core.files import ExtraPathsError

    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ExtraPathsError, match="mapping"):
        read_extra_model_paths(bad)
    with pytest.raises(ExtraPathsError, match="cannot read"):
        read_extra_model_paths(tmp_path / "missing.yaml")
