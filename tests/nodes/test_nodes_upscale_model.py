"""Upscale models through the real nodes on tiny generated files in two public layouts
spandrel recognises (ESRGAN/RRDB x4 in BasicSR's layout, Real-ESRGAN Compact x2): the
loader, ImageUpscaleWithModel against an untiled spandrel run (one tile: identical; several
tiles: identical away from the seams, close across them), the out-of-memory tile backoff,
pickle and wrong-family files refused with the file named, a workflow through the executor
and SD_4XUpscale_Conditioning."""

from __future__ import annotations

import threading

import pytest
import torch

import nodes
from comfy_core import runtime
from comfy_core.execution import Executor, make_cache
from comfy_core.files import FolderPaths
from comfy_core.graph import validate_prompt
from comfy_core.images import resize
from comfy_core.loading.upscale_models import UpscaleModelError, import_spandrel
from comfy_core.models.upscale import TilePlan, tile_count, upscale_tiled, upscale_with_backoff
from comfy_core.registry import NodeRegistry
from comfy_core.settings import Settings
from comfy_core.tools.make_upscale import write_upscale_model
from tests.fixtures.checkpoints import make_tiny_checkpoint

Loader = nodes.NODE_CLASS_MAPPINGS["UpscaleModelLoader"]
Upscale = nodes.NODE_CLASS_MAPPINGS["ImageUpscaleWithModel"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("upscale")
    folder = base / "models" / "upscale_models"
    write_upscale_model("esrgan", folder / "esrgan_x4.safetensors", seed=1)
    write_upscale_model("compact", folder / "compact_x2.safetensors", seed=2)
    make_tiny_checkpoint("sd15", folder / "not_an_upscaler.safetensors")
    (folder / "pickled.pth").write_bytes(b"\x80\x04K\x01.")
    folders = FolderPaths.build(base)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))) as ctx:
        yield ctx


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))


def _untiled(model, image: torch.Tensor) -> torch.Tensor:
    """spandrel on the whole image, as IMAGE clamped to 0..1."""
    with torch.no_grad():
        return model(image.movedim(-1, 1)).movedim(1, -1).clamp(0, 1)


@pytest.mark.parametrize("name,arch,scale", [("esrgan_x4.safetensors", "ESRGAN", 4),
                                             ("compact_x2.safetensors", "Compact", 2)])
def test_loader_recognises_public_layouts(app, name, arch, scale):
    model = Loader.execute(name)[0]
    assert isinstance(model, import_spandrel().ImageModelDescriptor)
    assert model.architecture.id == arch and model.scale == scale
    assert not model.model.training
    assert Loader.load_model(name)[0].scale == scale  # ComfyUI's method name


@pytest.mark.parametrize("name", ["esrgan_x4.safetensors", "compact_x2.safetensors"])
def test_one_tile_equals_untiled_spandrel(app, name):
    model = Loader.execute(name)[0]
    image = _image(24, 40)
    out = Upscale.upscale(model, image)[0]
    assert out.shape == (1, 24 * model.scale, 40 * model.scale, 3)
    assert torch.equal(out, _untiled(model, image))


def test_several_tiles_equal_untiled_away_from_seams(app):
    """Compact's receptive field is 4 input pixels (four 3x3 convs), so every output pixel
    whose contributing tiles all contain its receptive field is exact; near tile edges the
    feathered blend differs only slightly."""
    model = Loader.execute("compact_x2.safetensors")[0]
    image = _image(70, 90, seed=3).movedim(-1, 1)
    tile, overlap, radius = 32, 12, 4
    progress = []
    with torch.no_grad():
        tiled = upscale_tiled(model, image, 2, 3, tile, overlap, lambda d, t: progress.append((d, t)))
        whole = model(image)
    assert progress[-1] == (tile_count(70, 90, tile, overlap),) * 2 and len(progress) == progress[-1][0]
    exact = torch.ones(70, 90, dtype=torch.bool)
    for axis, size in ((0, 70), (1, 90)):
        starts = [s for s in range(0, size - tile, tile - overlap)] + [size - tile]
        for s in starts:  # input pixels within `radius` of an inner tile edge are not exact
            for edge in (s, s + tile):
                if 0 < edge < size:
                    band = slice(max(edge - radius, 0), edge + radius)
                    (exact[band, :] if axis == 0 else exact[:, band]).fill_(False)
    mask = exact.repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert bool(mask.any()) and bool((~mask).any())
    assert torch.allclose(tiled[..., mask], whole[..., mask], atol=1e-6)
    assert float((tiled - whole).abs().max()) < 0.05


def test_node_tiles_wide_images_with_512_px_tiles(app):
    model = Loader.execute("compact_x2.safetensors")[0]
    image = _image(16, 600, seed=4)
    out = Upscale.execute(model, image)[0]
    assert out.shape == (1, 32, 1200, 3) and float(out.min()) >= 0 and float(out.max()) <= 1
    whole = _untiled(model, image)
    # Tiles start at x = 0 and 88: output columns from input x < 80 come from the first
    # tile only, those from x >= 520 from the second only (beyond Compact's 4 px reach).
    assert torch.allclose(out[:, :, :160], whole[:, :, :160], atol=1e-6)
    assert torch.allclose(out[:, :, -160:], whole[:, :, -160:], atol=1e-6)


def test_out_of_memory_halves_the_tile(app):
    model = Loader.execute("compact_x2.safetensors")[0]
    seen: list[int] = []

    def limited(x: torch.Tensor) -> torch.Tensor:
        seen.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > 40:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated for tiles over 40 px)")
        return model(x)

    image = _image(60, 60, seed=5).movedim(-1, 1)
    frees = []
    out = upscale_with_backoff(limited, image, 2, 3, TilePlan(tile=160, overlap=8, min_tile=20),
                               on_oom=lambda: frees.append(1))
    assert seen[:2] == [60, 60] and set(seen[2:]) == {40}  # 160 and 80 px plans are one 60 px tile
    assert len(frees) == 2
    with torch.no_grad():
        assert torch.equal(out, upscale_tiled(model, image, 2, 3, 40, 8))
    with pytest.raises(torch.OutOfMemoryError):
        upscale_with_backoff(limited, image, 2, 3, TilePlan(tile=160, overlap=8, min_tile=80))


def test_pickles_and_wrong_family_files_are_refused_by_name(app):
    with pytest.raises(ValueError, match=r"pickled\.pth.*pickle"):
        Loader.execute("pickled.pth")
    with pytest.raises(UpscaleModelError, match=r"not_an_upscaler\.safetensors: not an upscale model.*"
                                                r"Stable Diffusion checkpoint"):
        Loader.execute("not_an_upscaler.safetensors")


def _execute(prompt: dict):
    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    checked = validate_prompt(registry, prompt)
    assert checked.ok, checked
    return Executor(registry, make_cache("classic")).run(checked.prompt, "p", {}, checked.outputs,
                                                         lambda e: None, threading.Event())


def test_workflow_upscales_and_wrong_file_fails_cleanly(app):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 24, "batch_size": 2, "color": 0x336699}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "esrgan_x4.safetensors"}},
        "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    result = _execute(prompt)
    assert result.status_str == "success", result.error
    prompt["2"]["inputs"]["model_name"] = "not_an_upscaler.safetensors"
    result = _execute(prompt)
    assert result.status_str == "error"
    assert result.error["node_id"] == "2" and "not an upscale model" in result.error["exception_message"]


def test_sd_4x_upscale_conditioning():
    node = nodes.NODE_CLASS_MAPPINGS["SD_4XUpscale_Conditioning"]
    images = _image(30, 50, seed=6)
    cond = [[torch.zeros(1, 77, 8), {"pooled_output": None}]]
    pos, neg, latent = node.encode(images, cond, cond, 2.0, 0.25)
    width, height = round(50 * 2.0), round(30 * 2.0)
    expected = resize.upscale(images.movedim(-1, 1) * 2 - 1, width // 4, height // 4, "bilinear", "center")
    for out in (pos, neg):
        assert torch.equal(out[0][1]["concat_image"], expected) and out[0][1]["noise_augmentation"] == 0.25
        assert out[0][0] is cond[0][0] and "concat_image" not in cond[0][1]
    assert latent["samples"].shape == (1, 4, height // 4, width // 4) and not latent["samples"].any()


def test_spandrel_import_leaves_no_torchvision_behind():
    """Without torchvision, spandrel is imported with a stand-in that is gone afterwards
    (a plugin importing torchvision gets the real ImportError)."""
    import importlib.util
    import sys

    import_spandrel()
    if importlib.util.find_spec("torchvision") is None:
        assert "torchvision" not in sys.modules
        with pytest.raises(ImportError):
            import torchvision  # noqa: F401
