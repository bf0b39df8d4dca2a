"""Every Stable Diffusion 1.x / 2.x / SDXL workflow template of the installed
comfyui-workflow-templates packages runs headless: the template's UI workflow is converted
to an API prompt with our converter, its model names point at tiny random stand-ins in the
public layouts (comfy_core.tools.stand_ins), sizes are divided by 16 and sampling capped at
2 steps, the pictures its LoadImage nodes name are generated, and the prompt is validated
and run by the real executor on a real registry. Each run must succeed and save images.

The browser twin of this test (tests/e2e/test_e2e_frontend_templates.py) queues the same
templates through ComfyUI's frontend; this one needs no browser and no server process."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from pathlib import Path

import pytest
from PIL import Image

from comfy_core.api.templates import load_template_assets
from comfy_core.files import FolderPaths
from comfy_core.graph.validate import validate_prompt
from comfy_core.graph.workflow_convert import workflow_to_prompt
from comfy_core.runtime import AppContext, use_app
from comfy_core.services import build_executor, build_memory, build_registry
from comfy_core.settings import parse_settings
from comfy_core.tools import stand_ins
from comfy_core.tools.shrink_prompt import shrink

# The index's model tags of the families this project runs.
SD_FAMILIES = frozenset({"SD1.5", "SD1.x", "SD2", "SD2.1", "SD2.x", "SDXL"})
# Templates tagged so when this test was written: the index may grow, never lose these.
KNOWN = frozenset({"default", "gsl_starter_1_1", "sdxl_simple_example", "sdxl_refiner_prompt_example",
                   "sdxlturbo_example", "sdxl_revision_text_prompts", "image_lotus_depth_v1_1"})
STEPS = 2
SHRINK = 16  # 512 -> 32, 1024 -> 64 pixels
PICTURE_SIDE = 64


@functools.cache
def template_files() -> dict[str, Path]:
    return load_template_assets()


@functools.cache
def sd_templates() -> tuple[str, ...]:
    """Names of the templates the index tags with one of SD_FAMILIES."""
    index = json.loads(template_files()["index.json"].read_text())
    return tuple(sorted(entry["name"] for category in index for entry in category["templates"]
                        if SD_FAMILIES & set(entry.get("models") or [])))


def write_pictures(prompt: dict, input_dir: Path) -> None:
    """The pictures LoadImage / LoadImageMask nodes name (the packages ship none), each a
    colour gradient with a transparent square (what a mask input reads)."""
    for node in prompt.values():
        name = (node.get("inputs") or {}).get("image")
        if node.get("class_type") in ("LoadImage", "LoadImageMask") and isinstance(name, str):
            picture = Image.linear_gradient("L").resize((PICTURE_SIDE, PICTURE_SIDE)).convert("RGBA")
            picture.paste((0, 0, 0, 0), (16, 16, 48, 48))
            (input_dir / name).parent.mkdir(parents=True, exist_ok=True)
            picture.save(input_dir / name)


class Runner:
    """One scratch base folder, registry, memory manager and executor for all templates."""

    def __init__(self, base: Path) -> None:
        self.settings = parse_settings(["--base-directory", str(base), "--cpu"], {})
        self.folders = FolderPaths.from_settings(self.settings)
        for d in (self.folders.input_dir, self.folders.output_dir, self.folders.temp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.models = base / "models"
        memory, _ = build_memory(self.settings)
        self.app = AppContext(folders=self.folders, settings=self.settings, memory=memory)
        with use_app(self.app):
            self.registry, _, _ = build_registry(self.settings, self.folders, memory=memory)
        self.executor = build_executor(self.registry, self.settings)

    def prepare(self, workflow: dict) -> dict:
        """The template's API prompt on stand-ins, shrunk, with its pictures in place."""
        info = self.registry.object_info()
        prompt = workflow_to_prompt(workflow, info)
        entries = stand_ins.plan(prompt)
        stand_ins.write_stand_ins(entries, self.models)
        family = entries[0].family if entries else "sd15"
        stand_ins.write_embeddings(stand_ins.embedding_names(prompt), self.models, family)
        stand_ins.substitute(prompt, entries)
        shrink(prompt, STEPS, info, factor=SHRINK)
        write_pictures(prompt, self.folders.input_dir)
        return prompt

    def run(self, prompt: dict, workflow: dict):
        check = validate_prompt(self.registry, prompt)
        assert check.ok, json.dumps({"error": check.error, "node_errors": check.node_errors}, default=str)[:3000]
        return self.executor.run(check.prompt or prompt, uuid.uuid4().hex, {"extra_pnginfo": {"workflow": workflow}},
                                 check.outputs, lambda event: None, threading.Event())


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    runner = Runner(tmp_path_factory.mktemp("sd_templates"))
    with use_app(runner.app):
        yield runner


def test_the_index_tags_the_known_sd_templates():
    assert KNOWN <= set(sd_templates()), sorted(KNOWN - set(sd_templates()))


@pytest.mark.parametrize("name", sd_templates())
def test_template_runs_headless_on_stand_ins(runner, name):
    workflow = json.loads(template_files()[f"{name}.json"].read_text())
    prompt = runner.prepare(workflow)
    result = runner.run(prompt, workflow)
    assert result.status_str == "success", result.error
    images = [image for ui in result.outputs.values() for image in (ui or {}).get("images") or []]
    assert images, f"{name} produced no images: {result.outputs}"
    for image in images:
        folder = runner.folders.output_dir if image["type"] == "output" else runner.folders.temp_dir
        with Image.open(folder / image.get("subfolder", "") / image["filename"]) as saved:
            assert max(saved.size) <= 2 * PICTURE_SIDE  # the shrunk sizes were used
