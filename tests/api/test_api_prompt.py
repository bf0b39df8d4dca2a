"""POST/GET /prompt, /queue, /history, /interrupt, /free on a real socket."""

import asyncio

from conftest import show_prompt, wait_done

from comfy_core.api.keys import WORKER


async def test_prompt_runs_and_history_has_record(client):
    resp = await client.post("/prompt", json={"prompt": show_prompt(7), "client_id": "c1",
                                              "extra_data": {"api_key_comfy_org": "S"}})
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"prompt_id", "number", "node_errors"} and body["number"] == 0
    record = await wait_done(client, body["prompt_id"])
    assert record["outputs"] == {"2": {"values": [7]}}
    assert record["status"]["status_str"] == "success" and record["status"]["completed"]
    names = [m[0] for m in record["status"]["messages"]]
    assert names == ["execution_start", "execution_cached", "execution_success"]
    number, pid, prompt, extra, outputs = record["prompt"]
    assert pid == body["prompt_id"] and outputs == ["2"]
    assert extra["client_id"] == "c1" and "create_time" in extra
    assert "api_key_comfy_org" not in extra
    assert set(record["meta"]["2"]) == {"node_id", "display_node", "parent_node", "real_node_id"}


async def test_api_alias_and_get_prompt(client):
    resp = await client.get("/api/prompt")
    assert await resp.json() == {"exec_info": {"queue_remaining": 0}}
    assert (await client.get("/api/queue")).status == 200
    assert (await client.get("/jobs")).status == 404
    assert (await client.get("/api/jobs")).status == 200
    assert (await client.get("/api/api/jobs")).status == 200
    assert (await client.get("/internal/folder_paths")).status == 200
    assert (await client.get("/api/internal/folder_paths")).status == 404


async def test_no_prompt_and_invalid_prompt(client):
    resp = await client.post("/prompt", json={"client_id": "x"})
    assert resp.status == 400
    assert await resp.json() == {"error": {"type": "no_prompt", "message": "No prompt provided",
                                           "details": "No prompt provided", "extra_info": {}},
                                 "node_errors": {}}
    resp = await client.post("/prompt", json={"prompt": {"1": {"class_type": "Nope",
                                                               "inputs": {}}}})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "invalid_prompt"


async def test_front_and_explicit_number_order_queue(client, services):
    await asyncio.to_thread(client.app[WORKER].stop)  # jobs stay pending
    ids = []
    for kw in ({}, {"front": True}, {"number": 0.5}):
        resp = await client.post("/prompt", json={"prompt": show_prompt(), **kw})
        ids.append((await resp.json())["prompt_id"])
    queue = await (await client.get("/queue")).json()
    assert [item[1] for item in queue["queue_pending"]] == [ids[1], ids[0], ids[2]]
    assert queue["queue_pending"][2][0] == 0.5 and queue["queue_running"] == []
    await client.post("/queue", json={"delete": [ids[2]]})
    queue = await (await client.get("/queue")).json()
    assert [item[1] for item in queue["queue_pending"]] == [ids[1], ids[0]]
    await client.post("/queue", json={"clear": True})
    assert (await (await client.get("/queue")).json())["queue_pending"] == []


async def test_history_paging_delete_clear(client):
    ids = []
    for v in range(3):
        resp = await client.post("/prompt", json={"prompt": show_prompt(v)})
        ids.append((await resp.json())["prompt_id"])
    for pid in ids:
        await wait_done(client, pid)
    assert list(await (await client.get("/history?max_items=2")).json()) == ids[1:]
    assert list(await (await client.get("/history?max_items=1&offset=0")).json()) == ids[:1]
    assert (await client.get("/history?max_items=abc")).status == 400
    await client.post("/history", json={"delete": [ids[0]]})
    assert list(await (await client.get("/history")).json()) == ids[1:]
    assert await (await client.get(f"/history/{ids[0]}")).json() == {}
    await client.post("/history", json={"clear": True})
    assert await (await client.get("/history")).json() == {}


async def test_interrupt_running_prompt(client):
    prompt = {"1": {"class_type": "ApiSlow", "inputs": {"steps": 500, "delay": 0.01}}}
    pid = (await (await client.post("/prompt", json={"prompt": prompt})).json())["prompt_id"]
    deadline = asyncio.get_running_loop().time() + 30
    while not (await (await client.get("/queue")).json())["queue_running"]:  # it must be running
        assert asyncio.get_running_loop().time() < deadline, "the prompt never started"
        await asyncio.sleep(0.01)
    assert (await client.post("/interrupt", json={"prompt_id": "other"})).status == 200
    assert (await client.post("/interrupt")).status == 200
    record = await wait_done(client, pid)
    assert record["status"]["status_str"] == "error" and not record["status"]["completed"]
    assert record["status"]["messages"][-1][0] == "execution_interrupted"


async def test_failed_prompt_and_free(client):
    prompt = {"1": {"class_type": "ApiConst", "inputs": {"value": 3}},
              "2": {"class_type": "ApiFail", "inputs": {"value": ["1", 0]}}}
    pid = (await (await client.post("/prompt", json={"prompt": prompt})).json())["prompt_id"]
    record = await wait_done(client, pid)
    name, data = record["status"]["messages"][-1]
    assert name == "execution_error" and data["exception_message"].startswith("boom 3")
    assert data["exception_type"] == "ValueError" and data["node_id"] == "2"
    assert (await client.post("/free", json={"unload_models": True,
                                             "free_memory": True})).status == 200
    jobs = await (await client.get("/api/jobs?status=failed")).json()
    assert [j["id"] for j in jobs["jobs"]] == [pid]
    assert (await client.get("/api/jobs?status=nope")).status == 400
    single = await (await client.get(f"/api/jobs/{pid}")).json()
    assert single["execution_error"]["node_id"] == "2"
    resp = await client.get("/api/jobs/unknown")
    assert resp.status == 404 and await resp.json() == {"error": "Job not found"}
