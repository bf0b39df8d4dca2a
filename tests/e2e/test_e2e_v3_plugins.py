"""V3 plugins on the real server: a pack exporting nodes through an async comfy_entrypoint
and a pack mixing classic and V3 classes in NODE_CLASS_MAPPINGS load from custom_nodes,
show in /object_info with ComfyUI's shapes, validate, and run one workflow end to end over
the websocket (dynamic inputs, lazy switch, expansion, async execute, previews)."""

import asyncio
import io
import shutil
from pathlib import Path

import aiohttp
import pytest
from e2e_server import ServerProcess, prepare_base
from PIL import Image

PLUGINS = Path(__file__).with_name("plugins")

PROMPT = {
    "1": {"class_type": "MixedNumber", "inputs": {"value": 4}},
    "2": {"class_type": "MixedAdd", "inputs": {"a": ["1", 0], "b": 1}},
    "3": {"class_type": "PackSum", "inputs": {"numbers.n0": ["2", 0], "numbers.n1": 3,
                                              "numbers.n2": ["1", 0]}},
    "4": {"class_type": "PackScale", "inputs": {"value": ["3", 0], "op": "times", "op.factor": 2}},
    "5": {"class_type": "PackFail", "inputs": {"value": ["3", 0]}},
    "6": {"class_type": "PackSwitch", "inputs": {"switch": True, "on_true": ["4", 0],
                                                 "on_false": ["5", 0]}},
    "7": {"class_type": "PackDouble", "inputs": {"x": ["6", 0]}},
    "8": {"class_type": "PackShow", "inputs": {"value": ["7", 0]}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_base(tmp_path_factory.mktemp("v3plugins"))
    shutil.copytree(PLUGINS / "v3_pack", base / "custom_nodes" / "v3_pack")
    shutil.copy(PLUGINS / "mixed_pack.py", base / "custom_nodes" / "mixed_pack.py")
    proc = ServerProcess(base)
    yield proc
    proc.stop()


async def test_object_info_shows_both_packs_in_comfyuis_shapes(server):
    async with aiohttp.ClientSession(server.url) as http:
        info = await (await http.get("/object_info")).json()
    pack_sum = info["PackSum"]
    assert pack_sum["input"]["required"]["numbers"] == ["COMFY_AUTOGROW_V3", {"template": {
        "input": {"required": {"n": ["INT", {"forceInput": True}]}}, "prefix": "n", "min": 1,
        "max": 8}}]
    assert (pack_sum["python_module"], pack_sum["display_name"]) == ("custom_nodes.v3_pack", "Pack Sum")
    assert pack_sum["output_name"] == ["total"] and pack_sum["api_node"] is False
    switch = info["PackSwitch"]
    assert switch["output"] == ["COMFY_MATCHTYPE_V3"] and switch["output_matchtypes"] == ["switch"]
    assert info["PackScale"]["display_name"] is None
    assert info["PackShow"]["input"]["hidden"] == {"unique_id": ["UNIQUE_ID"], "prompt": ["PROMPT"],
                                                   "extra_pnginfo": ["EXTRA_PNGINFO"]}
    mixed_v3, mixed_v1 = info["MixedAdd"], info["MixedNumber"]
    assert (mixed_v3["name"], mixed_v3["display_name"]) == ("MixedAddV3", "Mixed Add")
    assert "api_node" not in mixed_v1 and mixed_v1["display_name"] == "Mixed Number"
    assert mixed_v1["python_module"] == mixed_v3["python_module"] == "custom_nodes.mixed_pack"


async def _run(http, ws, prompt: dict) -> tuple[str, list[dict]]:
    resp = await http.post("/prompt", json={"prompt": prompt, "client_id": "v3"})
    assert resp.status == 200, await resp.text()
    pid = (await resp.json())["prompt_id"]
    messages = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 120)
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        data = msg.json()
        messages.append(data)
        if data["type"] == "executing" and data["data"]["node"] is None:
            return pid, messages


async def test_workflow_runs_end_to_end(server):
    async with aiohttp.ClientSession(server.url) as http:
        ws = await http.ws_connect("/ws?clientId=v3")
        pid, messages = await _run(http, ws, PROMPT)
        await ws.close()
        kinds = [m["type"] for m in messages]
        assert "execution_error" not in kinds and "execution_success" in kinds
        ran = [m["data"]["node"] for m in messages if m["type"] == "executing"][:-1]
        assert "5" not in ran and "7.sum" in ran
        expanded = next(m["data"] for m in messages
                        if m["type"] == "executing" and m["data"]["node"] == "7.sum")
        assert expanded["display_node"] == "7"
        shown = next(m["data"] for m in messages if m["type"] == "executed")
        assert shown["node"] == "8" and shown["output"]["text"] == ["48 from node 8"]
        assert shown["output"]["animated"] == [False]
        history = await (await http.get(f"/history/{pid}")).json()
        preview = history[pid]["outputs"]["8"]["images"][0]
        assert preview["type"] == "temp" and preview["filename"].startswith("ComfyUI_temp_")
        png = await (await http.get("/view", params=preview)).read()
        image = Image.open(io.BytesIO(png))
        assert image.size == (6, 4) and image.getpixel((0, 0)) == (48, 48, 48)
        assert '"PackShow"' in image.text["prompt"]


async def test_dynamic_and_custom_validation_errors_name_the_input(server):
    bad = {**PROMPT, "2": {"class_type": "MixedAdd", "inputs": {"a": ["1", 0], "b": -1}},
           "4": {"class_type": "PackScale", "inputs": {"value": ["3", 0], "op": "times",
                                                      "op.factor": 11}}}
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post("/prompt", json={"prompt": bad})
        body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "prompt_outputs_failed_validation"
    errors = {node: entry["errors"][0] for node, entry in body["node_errors"].items()}
    assert errors["2"]["type"] == "custom_validation_failed"
    assert errors["2"]["details"] == "b - b must not be negative"
    assert errors["4"]["type"] == "value_bigger_than_max"
    assert errors["4"]["details"] == "factor" and errors["4"]["extra_info"]["input_name"] == "factor"
