"""The V3 `ui` helpers that write files: previews in temp, saved images in output, with
the node's hidden prompt/workflow as PNG metadata."""

from __future__ import annotations

import json
import wave

import numpy as np
import torch
from PIL import Image

from comfy_core.images import ui_outputs as ui
from comfy_core.images.png import read_png_text
from comfy_core.registry.v3 import io


class Saver(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("Saver", inputs=[io.Image.Input("images")], is_output_node=True)

    @classmethod
    def execute(cls, images):
        return io.NodeOutput(ui=ui.ImageSaveHelper.get_save_images_ui(images, "v3/pic", cls))


def _clone():
    return Saver.PREPARE_CLASS_CLONE({"PROMPT": {"1": {"class_type": "Saver"}},
                                      "EXTRA_PNGINFO": {"workflow": {"nodes": []}},
                                      "UNIQUE_ID": "1"})


def test_saved_images_carry_the_hidden_metadata(app):
    images = torch.rand(2, 4, 6, 3)
    out = _clone().EXECUTE_NORMALIZED(images=images)
    results = out.ui_dict()["images"]
    assert results == [{"filename": "pic_00001_.png", "subfolder": "v3", "type": "output"},
                       {"filename": "pic_00002_.png", "subfolder": "v3", "type": "output"}]
    path = app.folders.output_dir / "v3" / "pic_00001_.png"
    text = read_png_text(path)
    assert json.loads(text["prompt"]) == {"1": {"class_type": "Saver"}}
    assert json.loads(text["workflow"]) == {"nodes": []}
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (4, 6, 3)
    assert np.array_equal(pixels, (images[0].numpy() * 255).astype(np.uint8))


def test_no_metadata_when_disabled(app_no_metadata):
    _clone().EXECUTE_NORMALIZED(images=torch.rand(1, 2, 2, 3))
    assert read_png_text(app_no_metadata.folders.output_dir / "v3" / "pic_00001_.png") == {}


def test_previews_go_to_temp(app):
    preview = ui.PreviewMask(torch.ones(2, 3, 5)).as_dict()
    assert preview["animated"] == (False,) and len(preview["images"]) == 2
    first = preview["images"][0]
    assert first["type"] == "temp" and first["filename"].startswith("ComfyUI_temp_")
    grey = np.asarray(Image.open(app.folders.temp_dir / first["filename"]))
    assert grey.shape == (3, 5, 3) and (grey == 255).all()
    assert ui.PreviewText("hi").as_dict() == {"text": ("hi",)}
    assert ui.SavedImages([ui.SavedResult("a.png", "", io.FolderType.output)], True).as_dict() == {
        "images": [{"filename": "a.png", "subfolder": "", "type": "output"}], "animated": (True,)}


def test_audio_preview_is_a_wav_of_the_waveform(app):
    waveform = torch.linspace(-1, 1, 8).reshape(1, 1, 8).repeat(1, 2, 1)
    saved = ui.PreviewAudio({"waveform": waveform, "sample_rate": 8000}).as_dict()["audio"]
    with wave.open(str(app.folders.temp_dir / saved[0]["filename"])) as clip:
        assert (clip.getnchannels(), clip.getframerate(), clip.getnframes()) == (2, 8000, 8)
        frames = np.frombuffer(clip.readframes(8), dtype=np.int16).reshape(8, 2)
    assert frames[0].tolist() == [-32767, -32767] and frames[-1].tolist() == [32767, 32767]


def test_animated_png(app):
    result = ui.ImageSaveHelper.save_animated_png(torch.rand(3, 4, 4, 3), "anim",
                                                  io.FolderType.output, _clone(), 10, 1)
    with Image.open(app.folders.output_dir / result.filename) as img:
        assert img.n_frames == 3 and "prompt" in img.info
