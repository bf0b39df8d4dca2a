"""Legacy group nodes and missing widget values: a workflow saved by older editors converts
to the prompt ComfyUI's editor sends for it (shared fixture with tests/web)."""

import copy
import json
from pathlib import Path

import pytest

from comfy_core.graph.group_layout import build_layout
from comfy_core.graph.group_nodes import expand_group_nodes
from comfy_core.graph.widget_layout import widget_slots
from comfy_core.graph.workflow_convert import WorkflowError, workflow_to_prompt
from tests.fixtures.reference import reference_object_info

FIXTURES = Path(__file__).resolve().parents[1] / "web" / "fixtures"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


INFO = reference_object_info()


def test_group_node_workflow_converts_to_comfyui_execution_ids():
    workflow = fixture("group_node_workflow.json")
    assert workflow_to_prompt(workflow, INFO) == fixture("group_node_prompt.json")


def test_group_layout_names_prefixes_and_control_entries():
    groups = fixture("group_node_workflow.json")["extra"]["groupNodes"]
    prompts = build_layout("Prompts", groups["Prompts"], INFO.get)
    assert list(prompts.spec) == ["text", "clip", "Negative text", "Negative clip"]
    assert widget_slots(prompts.info()) == ["text", "Negative text"]
    sampler = build_layout("Sample and decode", groups["Sample and decode"], INFO.get)
    # the primitive's widget first, then the sampler's widgets, then the sockets nothing
    # inside feeds; the primitive took the steps options and a control entry
    assert list(sampler.spec) == ["Steps value", "seed", "cfg", "sampler_name", "scheduler",
                                  "denoise", "model", "positive", "negative", "latent_image", "vae"]
    assert sampler.spec["Steps value"][1]["max"] == INFO["KSampler"]["input"]["required"]["steps"][1]["max"]
    assert widget_slots(sampler.info()) == ["Steps value", None, "seed", None, "cfg",
                                            "sampler_name", "scheduler", "denoise"]
    assert sampler.outputs == [(2, 0)]  # the sampler's LATENT is used only inside


def test_instance_widgets_override_inner_values_and_short_lists_keep_them():
    workflow = fixture("group_node_workflow.json")
    instance = next(n for n in workflow["nodes"] if n["type"] == "workflow>Sample and decode")
    instance["widgets_values"] = [5, "fixed", 7]
    prompt = workflow_to_prompt(workflow, INFO)
    assert prompt["20:1"]["inputs"]["steps"] == 5 and prompt["20:1"]["inputs"]["seed"] == 7
    assert prompt["20:1"]["inputs"]["cfg"] == 8  # the inner node's own value


def test_linked_group_widget_and_old_prefix():
    """A newer editor saves a linked widget as an instance input with `widget`; the oldest
    files name instances `workflow/NAME`."""
    workflow = fixture("group_node_workflow.json")
    prompts = next(n for n in workflow["nodes"] if n["type"] == "workflow>Prompts")
    prompts["type"] = "workflow/Prompts"
    prompts["inputs"].append({"name": "Negative text", "type": "STRING", "link": 13,
                              "widget": {"name": "Negative text"}})
    workflow["nodes"].append({"id": 30, "type": "PrimitiveStringMultiline", "mode": 0,
                              "inputs": [], "widgets_values": ["from outside"],
                              "outputs": [{"name": "STRING", "type": "STRING", "links": [13]}]})
    workflow["links"].append([13, 30, 0, 10, 2, "STRING"])
    prompt = workflow_to_prompt(workflow, INFO)
    assert prompt["10:1"]["inputs"]["text"] == ["30", 0]
    assert prompt["10:0"]["inputs"]["text"] == "a tiny red square"


def test_expansion_is_a_subgraph_per_instance_and_leaves_the_input_alone():
    workflow = fixture("group_node_workflow.json")
    before = copy.deepcopy(workflow)
    expanded = expand_group_nodes(workflow, INFO)
    assert workflow == before
    assert "groupNodes" not in expanded["extra"]
    defs = expanded["definitions"]["subgraphs"]
    assert [d["name"] for d in defs] == ["Prompts", "Sample and decode"]
    instances = [n for n in expanded["nodes"] if n["type"] in {d["id"] for d in defs}]
    assert [n["id"] for n in instances] == [10, 20] and instances[0]["title"] == "Prompts"
    plain = {"nodes": [{"id": 1, "type": "EmptyImage", "widgets_values": [8, 8, 1, 0]}]}
    assert expand_group_nodes(plain, INFO) is plain


def test_bad_groups_are_named():
    workflow = fixture("group_node_workflow.json")
    inner = workflow["extra"]["groupNodes"]["Prompts"]["nodes"][1]
    inner["type"] = "NotInstalled"
    with pytest.raises(WorkflowError, match="group node 'Prompts': inner node 1 has unknown type 'NotInstalled'"):
        workflow_to_prompt(workflow, INFO)
    inner["type"] = "workflow>Prompts"
    with pytest.raises(WorkflowError, match="contains itself"):
        workflow_to_prompt(workflow, INFO)


def test_unknown_node_error_names_only_that_node():
    workflow = {"nodes": [{"id": 1, "type": "EmptyImage", "widgets_values": [8, 8, 1, 0]},
                          {"id": 2, "type": "Mystery", "widgets_values": []}]}
    with pytest.raises(WorkflowError) as err:
        workflow_to_prompt(workflow, INFO)
    assert str(err.value) == "node #2 has unknown type 'Mystery'"


def test_missing_widget_values_take_the_input_defaults():
    nodes = [{"id": 1, "type": "VAEEncodeForInpaint", "widgets_values": []},
             {"id": 2, "type": "KSampler", "widgets_values": [5, "fixed", 3]},
             {"id": 3, "type": "LatentUpscale"}]
    prompt = workflow_to_prompt({"nodes": nodes}, INFO)
    assert prompt["1"]["inputs"] == {"grow_mask_by": 6}
    assert prompt["2"]["inputs"] == {"seed": 5, "steps": 3, "cfg": 8.0, "sampler_name": "euler",
                                     "scheduler": "simple", "denoise": 1.0}
    assert prompt["3"]["inputs"] == {"upscale_method": "nearest-exact", "width": 512,
                                     "height": 512, "crop": "disabled"}


def test_reroutes_inside_a_group():
    """A reroute only used inside adds nothing; one feeding the outside becomes an output
    typed like its source; the prompt skips both."""
    workflow = fixture("group_node_workflow.json")
    group = workflow["extra"]["groupNodes"]["Sample and decode"]
    group["nodes"].append({"type": "Reroute", "index": 3, "inputs": [{"name": "", "type": "*", "link": None}],
                           "outputs": [{"name": "", "type": "LATENT", "links": []}]})
    group["links"] += [[1, 0, 3, 0, 32, "LATENT"]]
    group["external"].append([3, 0, "LATENT"])
    layout = build_layout("Sample and decode", group, INFO.get)
    assert layout.outputs == [(2, 0), (3, 0)] and layout.output_types == ["IMAGE", "LATENT"]
    instance = next(n for n in workflow["nodes"] if n["type"] == "workflow>Sample and decode")
    instance["outputs"].append({"name": "LATENT", "type": "LATENT", "links": [14]})
    workflow["nodes"].append({"id": 31, "type": "SaveLatent", "mode": 0, "widgets_values": ["latents/x"],
                              "inputs": [{"name": "samples", "type": "LATENT", "link": 14}], "outputs": []})
    workflow["links"].append([14, 20, 1, 31, 0, "LATENT"])
    info = {**INFO, "SaveLatent": {"input": {"required": {"samples": ["LATENT"], "filename_prefix": [
        "STRING", {"default": "latents/ComfyUI"}]}}, "input_order": {"required": ["samples", "filename_prefix"]},
        "display_name": "SaveLatent"}}
    prompt = workflow_to_prompt(workflow, info)
    assert prompt["31"]["inputs"] == {"filename_prefix": "latents/x", "samples": ["20:1", 0]}
    assert "20:3" not in prompt


def test_external_entries_holding_the_inner_node_are_ignored_as_the_editor_does():
    """Early group nodes saved the inner node object itself as an `external` entry's first
    item; the editor's index lookup never matches it, so it marks no output (the sampler's
    LATENT, used inside, stays internal) and the workflow converts as before."""
    workflow = fixture("group_node_workflow.json")
    group = workflow["extra"]["groupNodes"]["Sample and decode"]
    group["external"] = [[dict(group["nodes"][1]), 0, "LATENT"], [dict(group["nodes"][2]), 0, "IMAGE"]]
    assert build_layout("Sample and decode", group, INFO.get).outputs == [(2, 0)]
    assert workflow_to_prompt(workflow, INFO) == fixture("group_node_prompt.json")
    group["external"] = [["1", "0", "LATENT"]]  # indexes as strings count, as Number() reads them
    assert build_layout("Sample and decode", group, INFO.get).outputs == [(1, 0), (2, 0)]


def test_malformed_group_recipe_is_a_workflow_error_naming_the_group():
    workflow = fixture("group_node_workflow.json")
    workflow["extra"]["groupNodes"]["Sample and decode"]["links"][0][2] = {"index": 1}
    with pytest.raises(WorkflowError, match="group node 'Sample and decode' has a malformed recipe"):
        workflow_to_prompt(workflow, INFO)
