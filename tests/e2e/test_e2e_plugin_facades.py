"""Classic packs on the real server.py: ComfyUI's plugin modules (folder_paths, server's
PromptServer, comfy.utils.ProgressBar, comfy_execution.graph_utils) behave as packs expect,
failing packs are reported with their real cause, and ComfyUI's registration rules hold.
One server for the module; fixture packs from tests/e2e/plugins."""

import asyncio
import json
import shutil
import struct
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
from e2e_server import ServerProcess, next_json, prepare_base

PLUGINS = Path(__file__).with_name("plugins")
PACKS = ("probe_pack", "broken_pack.py", "needs_pip", "swallows_import", "swallows_at_run",
         "zz_override.py")


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_base(tmp_path_factory.mktemp("facades"))
    for name in PACKS:
        copy = shutil.copytree if (PLUGINS / name).is_dir() else shutil.copy
        copy(PLUGINS / name, base / "custom_nodes" / name)
    for rel in ("probe/a.pt", "probe/sub/b.txt", "direct/keep.bin", "direct/skip.pt",
                "extra_loras/extra_lora.safetensors", "checkpoints/ours.safetensors"):
        touch(base / "models" / rel)
    proc = ServerProcess(base, "--cpu")
    proc.base = base
    yield proc
    proc.stop()


async def run_prompt(http, ws, client_id: str, prompt: dict, interrupt_after: int = 0):
    """Queue `prompt`, collect messages until it ends; optionally interrupt after that
    many progress messages. Returns those messages and the job's history record."""
    reply = await http.post("/prompt", json={"prompt": prompt, "client_id": client_id})
    assert reply.status == 200, await reply.text()
    prompt_id = (await reply.json())["prompt_id"]
    seen = []
    while True:
        msg = await next_json(ws)
        seen.append(msg)
        if msg["type"] == "progress" and interrupt_after and len(
                [m for m in seen if m["type"] == "progress"]) == interrupt_after:
            await http.post("/probe/interrupt", json={})
        if msg["type"] in ("execution_success", "execution_error", "execution_interrupted") \
                and msg["data"].get("prompt_id") == prompt_id:
            break
    # The record is stored after the run's last message and before the final `executing`
    # with node null (as in ComfyUI): read the history once that has arrived.
    while not ((msg := await next_json(ws))["type"] == "executing" and msg["data"]["node"] is None
               and msg["data"].get("prompt_id") == prompt_id):
        pass
    history = await (await http.get(f"/history/{prompt_id}")).json()
    return seen, history.get(prompt_id)


async def test_folder_registrations_are_one_table(server):
    async with aiohttp.ClientSession(server.url) as http:
        info = await (await http.get("/object_info")).json()
        listed = await (await http.get("/models/probe_models")).json()
    picker = info["ProbePicker"]["input"]["required"]
    assert picker["name"][0] == sorted(["a.pt", str(Path("sub") / "b.txt")])  # new key: all files
    assert picker["direct"][0] == ["keep.bin"]  # direct table entry with its own extensions
    assert picker["ckpt"][0] == ["ours.safetensors"]  # our folder, seen by the pack
    assert "extra_lora.safetensors" in info["LoraLoader"]["input"]["required"]["lora_name"][0]
    assert listed == picker["name"][0]
    assert info["ProbePicker"]["display_name"] == "Probe Picker"


async def test_pack_routes_answer_at_both_paths(server):
    async with aiohttp.ClientSession(server.url) as http:
        for path in ("/probe/hello?name=x", "/api/probe/hello?name=x"):
            reply = await http.get(path)
            assert reply.status == 200 and await reply.json() == {"hello": "x"}, path
        assert await (await http.get("/probe_static/hello.txt")).text() == "static text\n"
        assert (await http.delete("/probe/hello")).status == 405
        assert (await http.get("/extensions/probe_pack/probe.js")).status == 200
        assert await (await http.get("/extensions/probe_extra/hello.txt")).text() == "static text\n"
        listed = await (await http.get("/extensions")).json()
        assert "/extensions/probe_pack/probe.js" in listed
        assert "/extensions/swallow-web/toml.js" in listed  # pyproject.toml [tool.comfy] web
        assert (await http.get("/extensions/swallow-web/toml.js")).status == 200
        assert (await http.get("/probe/nothing")).status == 404
        assert (await (await http.get("/api/features")).json())["probe_flag"] is True


async def test_send_sync_reaches_websocket_clients(server):
    client_id = "facades-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession(server.url) as http:
        async with http.ws_connect(f"/ws?clientId={client_id}") as ws:
            await next_json(ws)  # status
            reply = await http.post("/probe/send", json={"sid": client_id})
            assert client_id in (await reply.json())["sockets"]
            frames = []
            while len(frames) < 5:
                msg = await asyncio.wait_for(ws.receive(), 30)
                frames.append(json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT
                              else msg.data)
    assert frames[0] == {"type": "probe.event", "data": {"n": 1}}
    assert struct.unpack(">II", frames[1][:8]) == (1, 2) and frames[1][8:12] == b"\x89PNG"
    assert frames[2] == struct.pack(">I", 9) + b"raw-bytes"
    assert frames[3] == struct.pack(">II", 3, 1) + b"7" + b"hello text"
    assert frames[4] == {"type": "probe.async", "data": {"n": 2}}


async def test_progress_bar_client_id_and_interrupt(server):
    client_id = "facades-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession(server.url) as http:
        async with http.ws_connect(f"/ws?clientId={client_id}") as ws:
            await next_json(ws)
            seen, record = await run_prompt(http, ws, client_id, {
                "1": {"class_type": "ProbeProgress", "inputs": {"steps": 3, "delay": 0.0}},
                "2": {"class_type": "ProbeShow", "inputs": {"value": ["1", 0]}}})
            assert record["status"]["status_str"] == "success"
            running = [m["data"] for m in seen if m["type"] == "probe.running"]
            assert running == [{"client": client_id, "node": "1"}]
            progress = [(m["data"]["value"], m["data"]["max"], m["data"]["node"])
                        for m in seen if m["type"] == "progress"]
            assert progress == [(1, 3, "1"), (2, 3, "1"), (3, 3, "1")]
            seen, record = await run_prompt(http, ws, client_id, {
                "1": {"class_type": "ProbeProgress", "inputs": {"steps": 2000, "delay": 0.01}},
                "2": {"class_type": "ProbeShow", "inputs": {"value": ["1", 0]}}},
                interrupt_after=2)
    assert seen[-1]["type"] == "execution_interrupted" and seen[-1]["data"]["node_id"] == "1"
    assert record["status"]["status_str"] == "error"


async def test_expansion_and_on_prompt_hook(server):
    client_id = "facades-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession(server.url) as http:
        async with http.ws_connect(f"/ws?clientId={client_id}") as ws:
            await next_json(ws)
            seen, record = await run_prompt(http, ws, client_id, {
                "5": {"class_type": "ProbeExpand", "inputs": {"start": 10, "count": 3}},
                "6": {"class_type": "ProbeShow", "inputs": {"value": ["5", 0]}},
                "7": {"class_type": "ProbeAdd", "inputs": {"a": 1, "b": 2}},
                "8": {"class_type": "ProbeShow", "inputs": {"value": ["7", 0]}}})
    assert record["status"]["status_str"] == "success", record["status"]
    # ProbeAdd is zz_override's (a + b + 1000); the hook adds 100 to b of the user's ProbeAdd
    assert record["outputs"]["6"]["value"] == [10 + (1 + 2 + 3) + 3 * 1000]
    assert record["outputs"]["8"]["value"] == [1 + 102 + 1000]
    executing = {m["data"]["node"] for m in seen if m["type"] == "executing"}
    assert {"5.0.0.1", "5.0.0.2", "5.0.0.3"} <= executing


async def test_failed_packs_are_listed_with_their_cause(server):
    async with aiohttp.ClientSession(server.url) as http:
        listing = await (await http.get("/api/custom_nodes")).json()
        info = await (await http.get("/object_info")).json()
    packs = {p["name"]: p for p in listing["packs"]}
    assert sorted(listing["failed"]) == ["broken_pack", "needs_pip", "swallows_import"]
    assert packs["probe_pack"]["status"] == "ok" and "ProbeExpand" in packs["probe_pack"]["nodes"]
    assert "probe pack exploded on purpose" in packs["broken_pack"]["cause"]
    assert "broken_pack.py:1" in packs["broken_pack"]["cause"]
    pip = packs["needs_pip"]
    assert "'probe-missing-dependency'" in pip["cause"]
    requirements = Path("custom_nodes") / "needs_pip" / "requirements.txt"
    assert pip["hint"].endswith(f"{sys.executable} -m pip install -r {requirements}")
    swallowed = packs["swallows_import"]
    assert "NameError" in swallowed["cause"] and "probe_swallowed_lib" in swallowed["cause"]
    assert "SwallowedNode" not in info
    log = Path(server.log.name).read_text()
    assert "Cannot import" in log and "probe-missing-dependency" in log


async def test_registration_rules_and_start_order(server):
    async with aiohttp.ClientSession(server.url) as http:
        info = await (await http.get("/object_info")).json()
    assert info["ProbeAdd"]["python_module"] == "custom_nodes.zz_override"
    assert info["KSampler"]["python_module"] == "nodes"
    assert info["KSampler"]["display_name"] == "KSampler (renamed by a pack)"
    order = (server.base / "order.log").read_text().splitlines()
    assert order == ["prestartup prestartup_script False", "import True True"]


async def test_run_time_name_error_names_the_caught_import(server):
    client_id = "facades-" + uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession(server.url) as http:
        listing = await (await http.get("/custom_nodes")).json()
        async with http.ws_connect(f"/ws?clientId={client_id}") as ws:
            await next_json(ws)
            seen, record = await run_prompt(http, ws, client_id, {
                "1": {"class_type": "UsesMissingLib", "inputs": {"value": 2}},
                "2": {"class_type": "ProbeShow", "inputs": {"value": ["1", 0]}}})
    pack = {p["name"]: p for p in listing["packs"]}["swallows_at_run"]
    assert pack["status"] == "ok" and pack["caught_import_failures"] == [
        "No module named 'probe_absent_runtime_lib'"]
    error = seen[-1]["data"]
    assert error["exception_type"] == "NameError"
    assert "probe_absent_runtime_lib" in error["exception_message"].split("\n", 1)[1]
