"""`folder_paths` over the server's FolderPaths: one table, ComfyUI's function contracts."""

import os
from pathlib import Path

import pytest

from comfy_core.files import FolderPaths
from comfy_core.registry.plugin_env import enable_facades
from comfy_core.runtime.plugin_host import release_host
from comfy_core.settings import Settings


@pytest.fixture
def fp(tmp_path):
    folders = FolderPaths.build(tmp_path)
    host = enable_facades(folders, Settings(base_directory=tmp_path))
    import folder_paths

    yield folders, folder_paths
    release_host(host)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_table_is_the_servers_own(fp, tmp_path):
    folders, folder_paths = fp
    assert folder_paths.folder_names_and_paths is folders.table
    assert folder_paths.base_path == str(tmp_path.resolve())
    assert folder_paths.models_dir == os.path.join(str(tmp_path.resolve()), "models")
    touch(tmp_path / "models" / "gguf" / "m.gguf")
    touch(tmp_path / "models" / "gguf" / "m.txt")
    paths, _ = folder_paths.folder_names_and_paths.get("diffusion_models", ([], set()))
    folder_paths.folder_names_and_paths["unet_gguf"] = (
        paths + [str(tmp_path / "models" / "gguf")], {".gguf"})
    assert folders.get_filename_list("unet_gguf") == ["m.gguf"]  # what our routes list
    folders.add_folder_path("ipadapter", str(tmp_path / "ip"))  # and the reverse
    assert folder_paths.get_folder_paths("ipadapter") == [str(tmp_path / "ip")]


def test_add_model_folder_path_order_and_shared_extensions(fp, tmp_path):
    folders, folder_paths = fp
    first = folder_paths.get_folder_paths("loras")[0]
    folder_paths.add_model_folder_path("loras", "/x/extra")
    folder_paths.add_model_folder_path("loras", "/x/extra")
    assert folder_paths.get_folder_paths("loras").count("/x/extra") == 1
    folder_paths.add_model_folder_path("loras", "/x/extra", is_default=True)
    assert folder_paths.get_folder_paths("loras")[:2] == ["/x/extra", first]
    copy = folder_paths.get_folder_paths("loras")
    copy.append("/not/kept")
    assert "/not/kept" not in folder_paths.get_folder_paths("loras")
    folder_paths.supported_pt_extensions.add(".gguf")
    touch(tmp_path / "models" / "vae" / "v.gguf")
    assert folder_paths.get_filename_list("vae") == ["v.gguf"]
    with pytest.raises(KeyError):
        folder_paths.get_filename_list("no_such_folder")
    with pytest.raises(KeyError):
        folder_paths.get_folder_paths("no_such_folder")


def test_full_paths_stay_inside_their_folder(fp, tmp_path):
    _, folder_paths = fp
    model = touch(tmp_path / "models" / "checkpoints" / "sub" / "m.safetensors")
    assert folder_paths.get_full_path("checkpoints", "sub/m.safetensors") == str(model)
    assert folder_paths.get_full_path("checkpoints", "/sub/m.safetensors") == str(model)
    assert folder_paths.get_full_path("checkpoints", "../checkpoints/sub/m.safetensors") is None
    assert folder_paths.get_full_path("unknown", "m.safetensors") is None
    with pytest.raises(FileNotFoundError, match="Model in folder 'checkpoints' with filename"):
        folder_paths.get_full_path_or_raise("checkpoints", "missing.safetensors")


def test_directories_and_annotated_names(fp, tmp_path):
    folders, folder_paths = fp
    assert folder_paths.get_output_directory() == str(folders.output_dir)
    assert folder_paths.get_directory_by_type("temp") == str(folders.temp_dir)
    assert folder_paths.get_directory_by_type("models") is None
    assert folder_paths.annotated_filepath("a.png [output]") == ("a.png", str(folders.output_dir))
    assert folder_paths.annotated_filepath("a.png[temp]") == ("a.pn", str(folders.temp_dir))
    assert folder_paths.get_annotated_filepath("a.png") == os.path.join(str(folders.input_dir), "a.png")
    assert folder_paths.get_annotated_filepath("a.png", "/d") == os.path.join("/d", "a.png")
    assert folder_paths.get_system_user_directory("cache").endswith(os.sep + "__cache")
    assert folder_paths.get_public_user_directory("__system") is None
    folder_paths.set_output_directory(str(tmp_path / "elsewhere"))
    assert folder_paths.output_directory == str((tmp_path / "elsewhere").resolve())
    assert folders.output_dir == (tmp_path / "elsewhere").resolve()


def test_save_image_path_and_filters(fp, tmp_path):
    folders, folder_paths = fp
    out = str(folders.output_dir)
    folder, name, counter, sub, prefix = folder_paths.get_save_image_path("run/img_%width%", out, 64, 32)
    assert (folder, name, counter, sub) == (os.path.join(out, "run"), "img_64", 1, "run")
    with pytest.raises(Exception, match="outside the output folder"):  # a plain Exception, as ComfyUI raises
        folder_paths.get_save_image_path("../escape", out)
    assert folder_paths.filter_files_extensions(["b.PT", "a.txt", "c.bin"], [".pt", ".bin"]) == ["b.PT", "c.bin"]
    assert folder_paths.filter_files_content_types(["a.png", "b.mp4", "c.safetensors", "d.txt"],
                                                   ["image", "model"]) == ["a.png", "c.safetensors"]
    with folder_paths.cache_helper:
        assert folder_paths.cache_helper.active
