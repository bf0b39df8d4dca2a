"""The real server as a subprocess: a full prompt over HTTP + websocket, PNG metadata,
crash recovery after SIGKILL, and a bad-input matrix that must not take it down."""

import asyncio
import io
import json
import time

import aiohttp
import pytest
from e2e_server import ServerProcess, prepare_base
from PIL import Image

IMAGE_PROMPT = {
    "1": {"class_type": "EmptyImage",
          "inputs": {"width": 16, "height": 8, "batch_size": 1, "color": 255}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "e2e"}},
}
WORKFLOW = {"id": "wf-e2e", "nodes": [], "links": [], "version": 0.4}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_base(tmp_path_factory.mktemp("e2e"))
    proc = ServerProcess(base)
    yield proc
    proc.stop()


async def test_prompt_over_websocket_and_png_metadata(server):
    async with aiohttp.ClientSession(server.url) as http:
        ws = await http.ws_connect("/ws?clientId=e2e")
        first = await ws.receive_json()
        assert first["type"] == "status" and first["data"]["sid"] == "e2e"
        resp = await http.post("/prompt", json={
            "prompt": IMAGE_PROMPT, "client_id": "e2e",
            "extra_data": {"extra_pnginfo": {"workflow": WORKFLOW}}})
        assert resp.status == 200
        pid = (await resp.json())["prompt_id"]
        kinds = []
        while True:
            msg = await asyncio.wait_for(ws.receive_json(), 30)
            kinds.append(msg["type"])
            if msg["type"] == "executing" and msg["data"]["node"] is None:
                assert msg["data"]["prompt_id"] == pid
                break
        order = [k for k in kinds if k not in ("status", "progress_state", "progress")]
        assert order == ["execution_start", "execution_cached", "executing", "executing",
                         "executed", "execution_success", "executing"]
        history = await (await http.get(f"/history/{pid}")).json()
        image = history[pid]["outputs"]["2"]["images"][0]
        assert image == {"filename": "e2e_00001_.png", "subfolder": "", "type": "output"}
        png = await (await http.get("/view", params=image)).read()
        img = Image.open(io.BytesIO(png))
        assert img.size == (16, 8)
        assert json.loads(img.text["prompt"]) == IMAGE_PROMPT
        assert json.loads(img.text["workflow"]) == WORKFLOW
        info = await (await http.get("/api/object_info")).json()
        assert "LoadImage" in info and "E2ESlow" in info
        jobs = await (await http.get("/api/jobs", params={"workflow_id": "wf-e2e"})).json()
        assert jobs["jobs"][0]["preview_output"]["filename"] == "e2e_00001_.png"
        await ws.close()


BAD_REQUESTS = [
    ("post", "/prompt", {"data": b"{oops"}, 400),
    ("post", "/prompt", {"json": {"prompt": {"1": {"class_type": "EmptyImage",
                                                   "inputs": {"width": "wide"}}}}}, 400),
    ("post", "/prompt", {"json": {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {
        "width": 10 ** 30, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}}}, 400),
    ("post", "/prompt", {"json": {"prompt": {"1": {"class_type": "NoSuchNode",
                                                   "inputs": {}}}}}, 400),
    ("post", "/prompt", {"json": {"prompt": {
        "1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}}}}}, 400),
    ("get", "/view", {"params": {"filename": "../../etc/passwd"}}, 400),
    ("get", "/view", {"params": {"filename": "x.png", "subfolder": "../.."}}, 403),
    ("post", "/prompt", {"json": {"prompt": {}}, "headers": {"Origin": "http://evil.test"}},
     403),
    ("get", "/history", {"params": {"max_items": "many"}}, 400),
]


async def test_bad_input_matrix_keeps_server_up(server):
    async with aiohttp.ClientSession(server.url) as http:
        for method, path, kwargs, status in BAD_REQUESTS:
            resp = await getattr(http, method)(path, **kwargs)
            assert resp.status == status, (path, kwargs, await resp.text())
            body = await resp.json()
            assert "error" in body, body
        for name, data in (("a.png", b"not an image"), ("b.svg", b"<svg/>")):
            form = aiohttp.FormData()
            form.add_field("image", data, filename=name)
            resp = await http.post("/upload/image", data=form)
            assert resp.status == 400
        form = aiohttp.FormData()
        form.add_field("image", b"\x89PNG" + b"0" * (2 * 1024 * 1024), filename="big.png")
        assert (await http.post("/upload/image", data=form)).status in (400, 413)
        assert (await http.get("/system_stats")).status == 200


def test_auth_token_enforced(tmp_path):
    import urllib.error
    import urllib.request

    proc = ServerProcess(prepare_base(tmp_path), "--auth-token", "tok")
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(proc.url + "/queue")
        assert err.value.code == 401
        req = urllib.request.Request(proc.url + "/queue",
                                     headers={"Authorization": "Bearer tok"})
        assert urllib.request.urlopen(req).status == 200
    finally:
        proc.stop()


async def _queue(http, prompt, **kw):
    resp = await http.post("/prompt", json={"prompt": prompt, **kw})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["prompt_id"]


def slow(steps):
    return {"1": {"class_type": "E2ESlow", "inputs": {"steps": steps}}}


async def test_sigkill_recovery(tmp_path):
    base = prepare_base(tmp_path)
    proc = ServerProcess(base, "--max-upload-size", "1")
    async with aiohttp.ClientSession(proc.url) as http:
        done = await _queue(http, slow(1))
        deadline = time.monotonic() + 30
        while done not in await (await http.get(f"/history/{done}")).json():
            assert time.monotonic() < deadline, "the first job never finished"
            await asyncio.sleep(0.05)
        running = await _queue(http, slow(10000))
        pending = [await _queue(http, slow(n)) for n in (2, 3, 4)]
        deadline = time.monotonic() + 30
        while not (queue := await (await http.get("/queue")).json())["queue_running"]:
            assert time.monotonic() < deadline, "the long job never started"
            await asyncio.sleep(0.05)
        assert queue["queue_running"][0][1] == running
    proc.kill()

    proc2 = ServerProcess(base, "--max-upload-size", "1")
    try:
        async with aiohttp.ClientSession(proc2.url) as http:
            history = await (await http.get("/history")).json()
            assert list(history)[:2] == [done, running]
            failed = history[running]["status"]
            assert failed["status_str"] == "error"
            assert failed["messages"][-1][1]["exception_message"] == \
                "server stopped while running"
            queue = await (await http.get("/queue")).json()
            in_queue = [i[1] for i in queue["queue_running"] + queue["queue_pending"]]
            assert [p for p in in_queue if p in pending] == [p for p in pending if p in in_queue]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                history = await (await http.get("/history")).json()
                if all(p in history for p in pending):
                    break
                await asyncio.sleep(0.1)
            assert list(history)[2:] == pending
    finally:
        proc2.stop()
