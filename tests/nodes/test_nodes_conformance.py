"""Conformance: every built-in node's /object_info entry equals ComfyUI 0.8.0's.

Compared for every node we register (nodes added later are covered automatically): the
top-level keys and their order, input sections, names and order, types, every option
(default, min, max, step, round, options, multiselect, widget hints, newer-schema keys),
outputs, output names and list flags, name, display name, category, python_module,
output_node, deprecated/experimental/api_node, output_matchtypes, and the number of output
tooltips. Not compared: free text (tooltips, descriptions) and the choices of combos that
list files (they reflect the folders, not the code). Deliberate or pending differences are
listed in KNOWN and asserted exactly, so the test fails when one is fixed as well as when a
node drifts.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import nodes
from comfy_core.registry import NodeRegistry
from tests.fixtures.reference import REFERENCE_FILE, reference_object_info

ROOT = Path(__file__).resolve().parents[2]
# Combos listing files: the reference server had no model files; ours lists its folders.
FILE_LIST_INPUTS = {"ckpt_name", "config_name", "vae_name", "unet_name", "clip_name",
                    "clip_name1", "clip_name2", "lora_name", "image", "model_name", "control_net_name",
                    "style_model_name", "gligen_name", "hypernetwork_name", "photomaker_model_name"}

# (node, path into the entry) -> (check of our value against theirs, reason)
KNOWN = {
    ("LoraLoaderModelOnly", ("output_tooltips",)):
        (lambda ours, theirs: len(ours) == 1 and len(theirs) == 2,
         "ComfyUI's class inherits LoraLoader's two tooltips for its one output; ours has one"),
}


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    """(ours, reference) object_info, as JSON, for every registered built-in node."""
    from comfy_core import runtime
    from comfy_core.files import FolderPaths

    folders = FolderPaths.build(tmp_path_factory.mktemp("conformance"))
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders)):
        registry = NodeRegistry()
        for module, (classes, titles) in nodes.mappings_by_python_module().items():
            registry.register_mappings(classes, titles, module)
        ours = json.loads(json.dumps(registry.object_info()))
    return ours, reference_object_info()


def _get(entry: dict, path: tuple):
    for part in path:
        entry = entry[part]
    return entry


def _put(entry: dict, path: tuple, value) -> None:
    _get(entry, path[:-1])[path[-1]] = value


def _normal_spec(name: str, spec: list) -> list:
    """A spec without free text (an options object holding only a tooltip counts as
    absent); file-list choices replaced by a marker."""
    head, options = spec[0], dict(spec[1]) if len(spec) > 1 and isinstance(spec[1], dict) else None
    if options is not None and options.pop("tooltip", None) is not None and not options:
        spec, options = spec[:1], None
    if isinstance(head, list) and name in FILE_LIST_INPUTS:
        head = "<file list>"
    if head == "COMBO" and options is not None and name in FILE_LIST_INPUTS:
        options["options"] = "<file list>"
    return [head] if not options and len(spec) == 1 else [head, options or {}]


def normalized(entry: dict) -> dict:
    """The entry with the parts this test does not compare taken out."""
    entry = copy.deepcopy(entry)
    entry.pop("description", None)
    if "output_tooltips" in entry:
        entry["output_tooltips"] = len(entry["output_tooltips"])
    for section, inputs in entry["input"].items():
        if section != "hidden":
            entry["input"][section] = {n: _normal_spec(n, s) for n, s in inputs.items()}
    return entry


def test_every_node_of_ours_exists_in_comfyui(entries):
    ours, theirs = entries
    assert sorted(set(ours) - set(theirs)) == []


def test_known_differences_are_still_exactly_as_listed(entries):
    ours, theirs = entries
    for (name, path), (check, reason) in KNOWN.items():
        assert check(_get(ours[name], path), _get(theirs[name], path)), f"{name} {path}: {reason}"


def drift(ours: dict, theirs: dict) -> list[str]:
    """How our entries differ from `theirs` on the nodes both have (KNOWN differences aside)."""
    problems = []
    for name, entry in ours.items():
        if name not in theirs:
            continue
        expected = copy.deepcopy(theirs[name])
        mine = copy.deepcopy(entry)
        for (node, path), _ in KNOWN.items():
            if node == name:
                try:
                    _put(mine, path, _get(expected, path))
                except KeyError:  # a file without that part: the difference shows below
                    pass
        a, b = normalized(mine), normalized(expected)
        if list(a) != list(b):
            problems.append(f"{name}: keys {list(a)} != {list(b)}")
        for key in b:
            if key in a and a[key] != b[key]:
                problems.append(f"{name}.{key}: ours {a[key]!r} != ComfyUI {b[key]!r}")
    return problems


def object_info_fixtures() -> list[Path]:
    """Every JSON file of the repository shaped like an /object_info answer (an object of
    node entries with inputs and outputs), wherever it was put."""
    found = []
    for path in sorted(ROOT.rglob("*.json")):
        if {"node_modules", ".venv", ".git"} & set(path.relative_to(ROOT).parts):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and data and all(isinstance(v, dict) and "input" in v and "output" in v
                                                   for v in data.values()):
            found.append(path)
    return found


def test_entries_equal_comfyuis(entries):
    ours, theirs = entries
    problems = drift(ours, theirs)
    assert not problems, "\n".join(problems)


def test_no_object_info_fixture_in_the_repo_drifts_from_the_registry(entries):
    """Any /object_info file a test reads must say what our registry says for the nodes both
    have: a hand-made fixture that drifts is caught here, not by a test passing on it."""
    fixtures = object_info_fixtures()
    assert REFERENCE_FILE in fixtures
    ours, _ = entries
    for path in fixtures:
        problems = drift(ours, json.loads(path.read_text(encoding="utf-8")))
        assert not problems, f"{path.relative_to(ROOT)} drifted:\n" + "\n".join(problems)


def test_the_comparison_notices_drift(entries):
    """The checks above can fail: a changed default, a renamed display name, a lost key."""
    ours, theirs = entries
    drifted = copy.deepcopy(ours["GrowMask"])
    drifted["input"]["required"]["expand"][1]["default"] = 1
    assert normalized(drifted) != normalized(theirs["GrowMask"])
    drifted = copy.deepcopy(ours["ImageColorToMask"])
    drifted["display_name"] = "Convert Image Color to Mask"
    assert normalized(drifted) != normalized(theirs["ImageColorToMask"])
    drifted = copy.deepcopy(ours["PrimitiveInt"])
    del drifted["output_matchtypes"]
    assert list(normalized(drifted)) != list(normalized(theirs["PrimitiveInt"]))
    # file lists and free text are not compared
    relisted = copy.deepcopy(ours["CheckpointLoaderSimple"])
    relisted["input"]["required"]["ckpt_name"][0] = ["other.safetensors"]
    relisted["description"] = "anything"
    assert normalized(relisted) == normalized(ours["CheckpointLoaderSimple"])
