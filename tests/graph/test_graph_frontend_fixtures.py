"""The workflow converter against ComfyUI's own frontend: each file in tests/fixtures/frontend
is a workflow built in comfyui-frontend-package (primitives, reroutes, muted and bypassed
nodes, groups, subgraphs, converted widgets, seed controls, dynamic prompts, a legacy
group-node file) with the API prompt that frontend sent for it, captured from its POST
/prompt by scripts/make_frontend_fixtures.py. Converted with ComfyUI 0.8.0's /object_info,
our prompt must be the frontend's, key for key. The editor's JavaScript converter is held to
the same files by tests/web/graph_frontend_fixtures.test.mjs."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from comfy_core.graph.workflow_convert import workflow_to_prompt
from tests.fixtures.reference import reference_object_info

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "frontend").glob("*.json"))
LEGACY = ROOT / "tests" / "web" / "fixtures" / "group_node_workflow.json"
INFO = reference_object_info()


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def convert(fixture: dict, workflow: dict | None = None) -> dict:
    """Our prompt for the fixture's workflow: the frontend's Math.random was 0.5 while it
    queued, and %date:...% used the page's clock at that moment."""
    return workflow_to_prompt(workflow or fixture["workflow"], INFO, random=lambda: 0.5,
                              now=datetime.fromisoformat(fixture["captured_at"]))


def test_the_fixtures_cover_the_features_and_come_from_the_pinned_frontend():
    names = {p.stem for p in FIXTURES}
    assert {"txt2img_controls_dynamic", "primitives_reroutes", "muted_bypassed_groups", "subgraphs",
            "img2img_advanced", "legacy_group_nodes", "v3_dynamic_inputs", "remote_combo"} <= names
    pinned = re.search(r"^comfyui-frontend-package==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned, "requirements.txt pins comfyui-frontend-package"
    for path in FIXTURES:
        fixture = load(path)
        # A new frontend release: rerun scripts/make_frontend_fixtures.py and review the diff.
        assert fixture["frontend_version"] == pinned.group(1), path.name
        assert fixture["server_status"] == 200, f"{path.name}: our server refused the frontend's prompt"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_our_prompt_is_the_frontends(path):
    fixture = load(path)
    assert convert(fixture) == fixture["prompt"]


def signature(prompt: dict, node_id: str) -> tuple:
    """A node as what it computes: class, title and inputs, links replaced by the signature
    of their source (so execution ids do not matter)."""
    entry = prompt[node_id]
    inputs = []
    for name, value in sorted(entry["inputs"].items()):
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            value = ("link", signature(prompt, value[0]), value[1])
        inputs.append((name, json.dumps(value) if not isinstance(value, tuple) else value))
    return entry["class_type"], entry["_meta"]["title"], tuple(inputs)


def test_a_legacy_group_node_file_gives_the_graph_the_frontend_makes_of_it():
    """The frontend turns legacy group nodes into subgraphs when it opens the file (new
    instance ids); converting the file as saved, we expand the groups ourselves. Same nodes,
    values and wiring, with one known difference: the group's PrimitiveNode ("Steps") has the
    value 12 on the instance and 20 inside the group; the frontend's migration keeps the inner
    20, we keep the instance's 12, which is what the group node showed and what frontends
    with native group nodes sent."""
    fixture = load(ROOT / "tests" / "fixtures" / "frontend" / "legacy_group_nodes.json")
    original = load(LEGACY)
    for node in original["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["widgets_values"] = ["demo/shapes-sd1-tiny.safetensors"]
    ours, theirs = convert(fixture, original), json.loads(json.dumps(fixture["prompt"]))
    (sampler,) = [k for k, v in theirs.items() if v["class_type"] == "KSampler"]
    (our_sampler,) = [k for k, v in ours.items() if v["class_type"] == "KSampler"]
    assert (ours[our_sampler]["inputs"]["steps"], theirs[sampler]["inputs"]["steps"]) == (12, 20)
    theirs[sampler]["inputs"]["steps"] = 12
    assert sorted(map(repr, (signature(ours, k) for k in ours))) == \
        sorted(map(repr, (signature(theirs, k) for k in theirs)))
    assert our_sampler == "20:1" and sampler != our_sampler  # ComfyUI's legacy ids: "<instance>:<index>"
