"""UI workflow -> API prompt: widgets_values mapping, links, reroutes, mute/bypass, primitives,
subgraphs and dynamic prompts."""

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from comfy_core.graph.widget_layout import widget_slots
from comfy_core.graph.workflow_convert import (MODE_MUTED, WorkflowError, format_date,
                                               process_dynamic_prompt, promoted_inputs,
                                               workflow_to_prompt)
from tests.fixtures.reference import reference_object_info

INFO = {
    "KSampler": {"input": {"required": {
        "model": ["MODEL"], "seed": ["INT", {"default": 0}], "steps": ["INT", {}],
        "cfg": ["FLOAT", {}], "sampler_name": [["euler", "ddim"]], "scheduler": [["normal"]],
        "positive": ["CONDITIONING"], "latent_image": ["LATENT"],
        "denoise": ["FLOAT", {}]}},
        "input_order": {"required": ["model", "seed", "steps", "cfg", "sampler_name",
                                     "scheduler", "positive", "latent_image", "denoise"]},
        "display_name": "KSampler"},
    "LoadImage": {"input": {"required": {"image": [["a.png"], {"image_upload": True}]}},
                  "input_order": {"required": ["image"]}, "display_name": "Load Image"},
    "Src": {"input": {"required": {"text": ["STRING", {"forceInput": True}]}},
            "input_order": {"required": ["text"]}, "display_name": "Src"},
    "Pass": {"input": {"required": {"model": ["MODEL"]}}, "input_order": {"required": ["model"]},
             "display_name": "Pass"},
}


def node(nid, kind, widgets=None, inputs=(), outputs=(), mode=0, title=None):
    n = {"id": nid, "type": kind, "mode": mode, "inputs": list(inputs),
         "outputs": list(outputs), "widgets_values": widgets or []}
    if title:
        n["title"] = title
    return n


def test_widget_slots_skip_editor_entries():
    assert widget_slots(INFO["KSampler"]) == ["seed", None, "steps", "cfg", "sampler_name",
                                              "scheduler", "denoise"]
    assert widget_slots(INFO["LoadImage"]) == ["image", None]
    assert widget_slots(INFO["Src"]) == []


def test_a_dynamic_combo_saved_choice_picks_the_widgets_after_it():
    """ResizeImageMaskNode's resize_type (COMFY_DYNAMICCOMBO_V3): the option's own widgets
    follow it, named '<combo>.<input>'; an unknown or missing choice shows the default's."""
    info = reference_object_info()["ResizeImageMaskNode"]
    assert widget_slots(info) == ["resize_type", "resize_type.multiplier", "scale_method"]
    assert widget_slots(info, values=["match size", "center", "area"]) == [
        "resize_type", "resize_type.crop", "scale_method"]
    assert widget_slots(info, values={"resize_type": "scale width"}) == [
        "resize_type", "resize_type.width", "scale_method"]
    assert widget_slots(info, values=["stretch"]) == widget_slots(info)
    node = {"id": 1, "type": "ResizeImageMaskNode", "widgets_values": ["scale dimensions", 40]}
    assert workflow_to_prompt({"nodes": [node]}, {"ResizeImageMaskNode": info})["1"]["inputs"] == {
        "resize_type": "scale dimensions", "resize_type.width": 40, "resize_type.height": 512,
        "resize_type.crop": "center", "scale_method": "area"}


def test_a_remote_combo_is_followed_by_its_refresh_entries():
    """LoadImageOutput's image combo lists a server route (remote): the frontend saves the
    auto-refresh toggle and the refresh button after it, and sends the button's value."""
    info = reference_object_info()["LoadImageOutput"]
    assert widget_slots(info) == ["image", None, "refresh", None]
    node = {"id": 1, "type": "LoadImageOutput", "widgets_values": ["a.png [output]", True, "refresh", "image"]}
    assert workflow_to_prompt({"nodes": [node]}, {"LoadImageOutput": info})["1"]["inputs"] == {
        "image": "a.png [output]", "refresh": "refresh"}
    remote = ["COMBO", {"remote": {"route": "/r", "refresh_button": True}}]
    two = {"input": {"required": {"a": remote, "b": remote}}}
    assert widget_slots(two) == ["a", None, "refresh", "b", None, "refresh#1"]


def test_convert_links_reroute_bypass_mute_primitive():
    wf = {"nodes": [
        node(1, "Pass", outputs=[{"name": "MODEL", "type": "MODEL", "links": [1]}]),
        node(2, "Reroute", inputs=[{"name": "", "type": "*", "link": 1}],
             outputs=[{"name": "", "type": "MODEL", "links": [2]}]),
        node(3, "Pass", inputs=[{"name": "model", "type": "MODEL", "link": 2}],
             outputs=[{"name": "MODEL", "type": "MODEL", "links": [3]}], mode=4),
        node(4, "KSampler", [42, "randomize", 20, 7.5, "ddim", "normal", 0.5],
             inputs=[{"name": "model", "type": "MODEL", "link": 3},
                     {"name": "steps", "type": "INT", "link": 4, "widget": {"name": "steps"}},
                     {"name": "positive", "type": "CONDITIONING", "link": 5}],
             title="My sampler"),
        node(5, "PrimitiveNode", [33], outputs=[{"name": "INT", "type": "INT", "links": [4]}]),
        node(6, "Src", outputs=[{"name": "C", "type": "CONDITIONING", "links": [5]}], mode=2),
        node(7, "LoadImage", ["a.png", "image"]),
        node(8, "Note", ["text"]),
    ], "links": [[1, 1, 0, 2, 0, "MODEL"], [2, 2, 0, 3, 0, "MODEL"], [3, 3, 0, 4, 0, "MODEL"],
                 [4, 5, 0, 4, 1, "INT"], [5, 6, 0, 4, 2, "CONDITIONING"]]}
    prompt = workflow_to_prompt(wf, INFO)
    assert set(prompt) == {"1", "4", "7"}
    assert prompt["4"] == {"class_type": "KSampler", "_meta": {"title": "My sampler"},
                           "inputs": {"seed": 42, "steps": 33, "cfg": 7.5,
                                      "sampler_name": "ddim", "scheduler": "normal",
                                      "denoise": 0.5, "model": ["1", 0]}}
    assert prompt["7"]["inputs"] == {"image": "a.png"}
    assert prompt["7"]["_meta"]["title"] == "Load Image"


def test_schema1_object_links_and_errors():
    wf = {"version": 1, "nodes": [
        node(1, "Pass", outputs=[{"name": "MODEL", "type": "MODEL", "links": [9]}]),
        node(2, "Pass", inputs=[{"name": "model", "type": "MODEL", "link": 9}])],
        "links": [{"id": 9, "origin_id": 1, "origin_slot": 0, "target_id": 2,
                   "target_slot": 0, "type": "MODEL"}]}
    assert workflow_to_prompt(wf, INFO)["2"]["inputs"] == {"model": ["1", 0]}
    with pytest.raises(WorkflowError, match="unknown type 'Mystery'"):
        workflow_to_prompt({"nodes": [node(1, "Mystery")], "links": []}, INFO)
    with pytest.raises(WorkflowError, match="not a UI workflow"):
        workflow_to_prompt({"1": {}}, INFO)


FIXTURES = Path(__file__).resolve().parents[1] / "web" / "fixtures"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def test_subgraphs_flatten_like_the_editor_on_the_shared_fixture():
    """Same workflow and expectation as tests/web/graph_to_prompt.test.mjs."""
    workflow, info = fixture("subgraph_workflow.json"), reference_object_info()
    assert workflow_to_prompt(workflow, info, random=lambda: 0.7) == fixture("subgraph_prompt.json")
    assert promoted_inputs(workflow["definitions"]["subgraphs"][0]) == [1]
    workflow["nodes"][1]["widgets_values"] = []
    assert workflow_to_prompt(workflow, info)["10:1"]["inputs"]["text"] == "replaced by the promoted widget"
    workflow["nodes"][-1]["mode"] = MODE_MUTED
    assert not any(k.startswith("12:") for k in workflow_to_prompt(workflow, info))


def test_a_subgraph_that_contains_itself_is_refused():
    workflow = fixture("subgraph_workflow.json")
    outer = workflow["definitions"]["subgraphs"][1]
    outer["definitions"]["subgraphs"][0]["nodes"].append({"id": 9, "type": outer["id"], "mode": 0})
    with pytest.raises(WorkflowError, match="nests deeper than 32 levels"):
        workflow_to_prompt(workflow, reference_object_info())


def test_dynamic_prompts_with_a_seeded_random():
    rand = random.Random(3).random
    expected_rand = random.Random(3).random
    text = "a {red|green|blue} {big|{tiny|small}} cat /* hidden */ \\{kept\\} // tail"
    out = process_dynamic_prompt(text, rand)
    colour = ["red", "green", "blue"][int(expected_rand() * 3)]
    assert out.startswith(f"a {colour} ") and out.endswith(" cat  {kept} ")
    # As the frontend: the end closes an open brace; only \\{ \\} \\| lose their backslash.
    assert process_dynamic_prompt("{a|b", lambda: 0.9) == "b"
    assert process_dynamic_prompt("\\(x\\) {a\\|b|c} \\\\", lambda: 0.0) == "\\(x\\) a|b \\\\"
    wf = {"nodes": [node(1, "CLIPTextEncode", ["x {1|2} // c"]), node(2, "SaveImage", ["{keep|this}"])]}
    prompt = workflow_to_prompt(wf, reference_object_info(), random=lambda: 0.5)
    assert prompt["1"]["inputs"] == {"text": "x 2 "}
    assert prompt["2"]["inputs"] == {"filename_prefix": "{keep|this}"}


def test_legacy_force_input_entries_are_skipped():
    info = {"Src2": {"input": {"required": {"text": ["STRING", {"forceInput": True}],
                                            "n": ["INT", {}]}}, "display_name": "Src2"}}
    assert workflow_to_prompt({"nodes": [node(1, "Src2", ["old", 4])]}, info)["1"]["inputs"] == {"n": 4}
    assert workflow_to_prompt({"nodes": [node(1, "Src2", [4])]}, info)["1"]["inputs"] == {"n": 4}


def test_filename_prefix_references_expand_like_the_editor():
    now = datetime(2024, 3, 5, 7, 8, 9)
    assert format_date("yyyy-MM-dd", now) == "2024-03-05"
    assert format_date("yy/M/d hh:mm:ss", now) == "24/3/5 07:08:09"
    wf = {"nodes": [node(1, "KSampler", [42, "fixed", 20, 7.5, "ddim", "normal", 0.5], title="Sampler"),
                    node(2, "SaveImage", ["%date:yyyy-MM-dd%/%Sampler.seed%_%KSampler.sampler_name%_%Nope.x%"])]}
    info = {**INFO, "SaveImage": reference_object_info()["SaveImage"]}
    prompt = workflow_to_prompt(wf, info, now=now)
    assert prompt["2"]["inputs"]["filename_prefix"] == "2024-03-05/42_ddim_%Nope.x%"


def test_editor_converted_subgraph_flattens_to_the_prompt_of_the_graph_before_conversion():
    """The editor's own Convert to Subgraph output (recorded) runs unchanged: the same nodes
    and inputs as before, the moved ones renamed '<instance>:<inner>'."""
    recorded, info = fixture("converted_subgraph.json"), reference_object_info()
    before = workflow_to_prompt(recorded["before"], info, random=lambda: 0.5)
    after = workflow_to_prompt(recorded["after"], info, random=lambda: 0.5)
    instance = str(recorded["instance"])
    moved = {k.split(":", 1)[1]: k for k in after if k.startswith(instance + ":")}
    assert moved and set(after) == (set(before) - set(moved)) | set(moved.values())

    def rename(value):
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            return [moved.get(value[0], value[0]), value[1]]
        return value

    for node_id, entry in before.items():
        got = after[moved.get(node_id, node_id)]
        assert got["class_type"] == entry["class_type"]
        assert got["inputs"] == {k: rename(v) for k, v in entry["inputs"].items()}
