"""LoadImage and LoadImageMask refuse images past the pixel and frame limits."""

import pytest
from PIL import Image

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.files.image_limits import ImageTooLargeError
from comfy_core.settings import Settings
from comfy_core.tools.hostile_images import blank_png, many_frames_gif
from nodes.image import LoadImage
from nodes.mask import LoadImageMask


@pytest.mark.parametrize("name,data,flag", [
    ("big.png", blank_png(12000, 12000), "--max-image-pixels"),
    ("anim.gif", many_frames_gif(600), "--max-image-frames"),
])
def test_load_refuses_amplifiers(app, name, data, flag):
    (app.folders.input_dir / name).write_bytes(data)
    with pytest.raises(ImageTooLargeError, match=flag):
        LoadImage().load_image(name)
    with pytest.raises(ImageTooLargeError, match=flag):
        LoadImageMask().load_image(name, "alpha")


def test_load_follows_the_configured_limits(tmp_path):
    folders = FolderPaths.build(tmp_path)
    folders.input_dir.mkdir(parents=True)
    ctx = runtime.AppContext(folders=folders, settings=Settings(base_directory=tmp_path,
                                                                max_image_frames=5))
    (folders.input_dir / "twelve.gif").write_bytes(many_frames_gif(12))
    with runtime.use_app(ctx), pytest.raises(ImageTooLargeError, match="12 frames"):
        LoadImage().load_image("twelve.gif")


def test_gif_within_limits_loads_every_frame(app):
    (app.folders.input_dir / "ok.gif").write_bytes(many_frames_gif(12))
    image, mask = LoadImage().load_image("ok.gif")
    assert image.shape == (12, 8, 8, 3)
    Image.new("RGB", (64, 32)).save(app.folders.input_dir / "ok.png")
    assert LoadImage().load_image("ok.png")[0].shape == (1, 32, 64, 3)
