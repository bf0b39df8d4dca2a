"""Links the operator put into model folders are followed, the same way when listing and
when loading; names sent in requests still never leave their folder."""

from pathlib import Path

import pytest

from comfy_core.files import FolderPaths


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def layout(tmp_path):
    """models/checkpoints with a linked file, a linked folder and a dangling link, all
    pointing at another "disk"."""
    other = tmp_path / "other-disk"
    shared = touch(other / "shared.safetensors")
    touch(other / "pack" / "a.safetensors")
    touch(other / "pack" / "deep" / "b.safetensors")
    touch(other / "private.safetensors")
    folders = FolderPaths.build(tmp_path / "base")
    ck = tmp_path / "base" / "models" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "shared.safetensors").symlink_to(shared)
    (ck / "pack").symlink_to(other / "pack", target_is_directory=True)
    (ck / "gone.safetensors").symlink_to(other / "missing.safetensors")
    touch(ck / "local.safetensors")
    return folders, ck, other


def test_listing_and_loading_agree(layout):
    folders, ck, other = layout
    listed = folders.get_filename_list("checkpoints")
    assert listed == sorted(["local.safetensors", "shared.safetensors",
                             str(Path("pack") / "a.safetensors"),
                             str(Path("pack") / "deep" / "b.safetensors")])
    for name in listed:
        path = folders.get_full_path("checkpoints", name)
        assert path is not None and path.is_file(), name
    assert folders.get_full_path("checkpoints", "shared.safetensors") == \
        ck / "shared.safetensors"
    assert folders.get_full_path("checkpoints", "pack/deep/b.safetensors").read_bytes() == b"x"


@pytest.mark.parametrize("name", [
    "../../../other-disk/private.safetensors", "pack/../../../other-disk/private.safetensors",
    "pack/../../local.safetensors", "/etc/passwd", "gone.safetensors", "",
    "pack/../pack/../../x.safetensors", "local.safetensors\x00.txt", ".",
])
def test_request_names_never_leave_the_folder(layout, name):
    folders, _, other = layout
    assert folders.get_full_path("checkpoints", name) is None
    assert folders.get_full_path("checkpoints", str(other / "private.safetensors")) is None


def test_checkpoint_loader_loads_through_a_link(tmp_path):
    from comfy_core import runtime
    from comfy_core.settings import Settings
    from nodes.loaders import CheckpointLoaderSimple
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    real = make_tiny_checkpoint("sd15", tmp_path / "other-disk" / "tiny.safetensors")
    folders = FolderPaths.build(tmp_path / "base")
    ck = folders.get_folder_paths("checkpoints")[0]
    ck.mkdir(parents=True)
    (ck / "tiny.safetensors").symlink_to(real)
    ctx = runtime.AppContext(folders=folders, settings=Settings(base_directory=tmp_path))
    with runtime.use_app(ctx):
        options = CheckpointLoaderSimple.INPUT_TYPES()["required"]["ckpt_name"][0]
        assert options == ["tiny.safetensors"]
        model, clip, vae = CheckpointLoaderSimple().load_checkpoint("tiny.safetensors")
    assert model is not None and clip is not None and vae is not None
