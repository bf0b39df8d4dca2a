"""A local Ray cluster with two CPU workers behind the real app (one cluster for the
module): demo-model jobs on both workers with their files, events and stats; several
running jobs in /queue with per-client events and interrupt; checkpoint affinity; a model
that fails to load failing only its job; a worker killed mid-job."""

import asyncio
import io
import json
import os
import signal

import aiohttp
import pytest
from cluster_harness import (
    CKPT_A,
    CKPT_B,
    DEMO,
    RAY_FLAGS,
    ClusterServer,
    demo_prompt,
    make_base,
    slow_prompt,
    submit,
    wait_done,
    wait_running,
    wait_workers,
)
from PIL import Image

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = make_base(tmp_path_factory.mktemp("cluster"), {
        CKPT_A: DEMO, CKPT_B: DEMO, "broken.safetensors": b"\x10\x00\x00\x00\x00\x00\x00\x00{}"})
    srv = ClusterServer(base, "--ray", "local", "--ray-workers", "2", *RAY_FLAGS,
                        "--ray-locality-wait", "120", "--ray-heartbeat-timeout", "15")
    srv.wait_ready()
    yield srv
    srv.close()


async def collect(ws, prompt_ids: set, sink: list, binary: list | None = None) -> None:
    """Websocket messages into `sink` until every prompt in `prompt_ids` sent its final
    executing {node: null}."""
    left = set(prompt_ids)
    while left:
        msg = await asyncio.wait_for(ws.receive(), 120)
        if msg.type == aiohttp.WSMsgType.BINARY:
            if binary is not None:
                binary.append(msg.data)
            continue
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        sink.append(data)
        if data["type"] == "executing" and data["data"]["node"] is None:
            left.discard(data["data"]["prompt_id"])


async def test_demo_jobs_on_two_workers(server):
    async with aiohttp.ClientSession(server.url) as http:
        ws = await http.ws_connect("/ws?clientId=demo")
        ckpts = [CKPT_A, CKPT_B, CKPT_A, CKPT_B]
        ids = [await submit(http, demo_prompt(ckpt, seed=i, prefix="demo"), "demo",
                            {"preview_method": "auto"}) for i, ckpt in enumerate(ckpts)]
        messages: list = []
        previews: list = []
        await collect(ws, set(ids), messages, previews)
        assert previews and all(frame[:4] == b"\x00\x00\x00\x01" for frame in previews)
        records = {pid: await wait_done(http, pid) for pid in ids}
        assert {r["status"]["status_str"] for r in records.values()} == {"success"}
        assert {r["status"]["worker"] for r in records.values()} == {"worker-1", "worker-2"}
        assert {r["status"]["device"] for r in records.values()} == {"cpu"}
        names = [r["outputs"]["9"]["images"][0]["filename"] for r in records.values()]
        assert sorted(names) == [f"demo_{i:05}_.png" for i in range(1, 5)]
        executed = {m["data"]["prompt_id"]: m["data"]["output"]["images"][0]["filename"]
                    for m in messages if m["type"] == "executed"}
        assert executed == {pid: r["outputs"]["9"]["images"][0]["filename"]
                            for pid, r in records.items()}
        for name in names:  # the files came back to the server's output folder
            assert (server.settings.base_directory / "output" / name).is_file()
            resp = await http.get("/view", params={"filename": name, "type": "output"})
            assert resp.status == 200
            assert Image.open(io.BytesIO(await resp.read())).size == (64, 64)
        for _ in range(100):  # the per-worker stats are refreshed every 2 s
            stats = await (await http.get("/system_stats")).json()
            devices = {d["worker"]: d for d in stats["devices"]}
            if all(d["loaded"] for d in devices.values()):
                break
            await asyncio.sleep(0.1)
        assert set(devices) == {"worker-1", "worker-2"}
        assert all(d["type"] == "cpu" for d in devices.values())
        assert sorted(f for d in devices.values() for f in d["model_files"]) == [CKPT_B, CKPT_A]
        assert all(d["loaded"] for d in devices.values())  # the model's parts, with sizes
        await ws.close()


async def test_two_running_jobs_events_per_client_and_interrupt(server):
    async with aiohttp.ClientSession(server.url) as http:
        ws1 = await http.ws_connect("/ws?clientId=one")
        ws2 = await http.ws_connect("/ws?clientId=two")
        long_id = await submit(http, slow_prompt(2000, 0.05, "long"), "one")
        short_id = await submit(http, slow_prompt(100, 0.05, "short"), "two")  # outlasts the polls below
        running = await wait_running(http, 2)
        assert set(running) == {long_id, short_id}
        got1, got2 = [], []
        while not any(m["type"] == "progress" for m in got1):  # the long job is under way
            got1.append(json.loads((await asyncio.wait_for(ws1.receive(), 60)).data))
        resp = await http.post("/interrupt", json={"prompt_id": long_id})
        assert resp.status == 200
        await asyncio.gather(collect(ws1, {long_id}, got1), collect(ws2, {short_id}, got2))
        long_rec, short_rec = await wait_done(http, long_id), await wait_done(http, short_id)
        assert long_rec["status"]["messages"][-1][0] == "execution_interrupted"
        assert short_rec["status"]["status_str"] == "success"
        assert short_rec["outputs"]["1"]["tag"] == ["short"]
        assert long_rec["status"]["worker"] != short_rec["status"]["worker"]
        for got, pid in ((got1, long_id), (got2, short_id)):
            ids = {m["data"].get("prompt_id") for m in got if m["type"] != "status"}
            assert ids == {pid}  # each client saw only its own job
            assert any(m["type"] == "progress" for m in got)
        assert [m["type"] for m in got2 if m["type"] in ("executed", "execution_success")] == [
            "executed", "execution_success"]
        # a pack's own event (PromptServer.instance.send_sync on the worker) reached its client
        assert [m["data"]["tag"] for m in got2 if m["type"] == "cluster_test.started"] == [
            "short"]
        await ws1.close()
        await ws2.close()


async def test_checkpoint_affinity(server):
    async with aiohttp.ClientSession(server.url) as http:
        await http.post("/free", json={"unload_models": True, "free_memory": True})
        ckpts = [CKPT_A, CKPT_B] * 3
        ids = [await submit(http, demo_prompt(ckpt, seed=i, prefix="aff"))
               for i, ckpt in enumerate(ckpts)]
        records = [await wait_done(http, pid) for pid in ids]
        assert {r["status"]["status_str"] for r in records} == {"success"}
        workers = {ckpt: {r["status"]["worker"] for c, r in zip(ckpts, records) if c == ckpt}
                   for ckpt in (CKPT_A, CKPT_B)}
        assert all(len(w) == 1 for w in workers.values()), [(c[:4], r["status"]["worker"], dict(r["status"]["messages"])["execution_start"]["timestamp"]) for c, r in zip(ckpts, records)]
        assert workers[CKPT_A] != workers[CKPT_B]
        for ckpt in (CKPT_A, CKPT_B):  # the loader ran once per checkpoint, cached after
            loads = [r for c, r in zip(ckpts, records) if c == ckpt and "4" not in
                     dict(r["status"]["messages"])["execution_cached"]["nodes"]]
            assert len(loads) == 1


async def test_model_that_fails_to_load_fails_only_its_job(server):
    async with aiohttp.ClientSession(server.url) as http:
        bad = await submit(http, demo_prompt("broken.safetensors", prefix="bad"))
        good = await submit(http, demo_prompt(CKPT_A, seed=7, prefix="good"))
        bad_rec, good_rec = await wait_done(http, bad), await wait_done(http, good)
        name, error = bad_rec["status"]["messages"][-1]
        assert name == "execution_error" and error["node_id"] == "4"
        assert error["node_type"] == "CheckpointLoaderSimple"
        assert good_rec["status"]["status_str"] == "success"
        again = await wait_done(http, await submit(http, demo_prompt(CKPT_A, seed=8)))
        assert again["status"]["status_str"] == "success"


async def test_file_no_worker_has_is_refused_at_submit(server):
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post("/prompt", json={"prompt": demo_prompt("missing.safetensors")})
        body = await resp.json()
        assert resp.status == 400
        assert "missing.safetensors" in json.dumps(body["node_errors"]["4"])


async def wait_holder(server, prompt_id: str, killed: list, timeout: float = 300.0):
    """The live worker running `prompt_id`, once one other than those `killed` holds it
    (after a kill that may be a replacement still starting)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        holder = next((h for h in server.cluster.pool.ready() if h.busy == prompt_id and h not in killed), None)
        if holder is not None:
            return holder
        assert asyncio.get_running_loop().time() < deadline, f"no live worker took {prompt_id}"
        await asyncio.sleep(0.05)


async def test_worker_killed_mid_job_reruns_once_then_fails(server):
    ray = server.cluster.ray
    async with aiohttp.ClientSession(server.url) as http:
        first = await submit(http, slow_prompt(60, 0.05, "first"))
        [running] = await wait_running(http, 1)
        assert running == first
        victim = await wait_holder(server, first, [])
        ray.kill(victim.actor)
        record = await wait_done(http, first)
        assert record["status"]["status_str"] == "success"
        assert record["status"]["worker"] not in (victim.worker_id,)
        assert server.base_services.store.attempts(first) == 2
        history = await (await http.get("/history")).json()
        assert list(history).count(first) == 1

        await wait_workers(server, 2)  # the replacement is up
        second = await submit(http, slow_prompt(2000, 0.05, "second"))
        killed: list = []
        for _ in range(2):  # its worker dies, and the next one too
            holder = await wait_holder(server, second, killed)
            ray.kill(holder.actor)
            killed.append(holder)
        record = await wait_done(http, second)
        name, error = record["status"]["messages"][-1]
        assert name == "execution_error" and error["exception_type"] == "WorkerLost"
        assert "lost 2 times" in error["exception_message"]
        assert "died" in error["exception_message"]


async def test_hung_worker_loses_its_job_to_another(server):
    async with aiohttp.ClientSession(server.url) as http:
        await wait_workers(server, 2)
        pid = await submit(http, slow_prompt(100, 0.05, "hang"))
        await wait_running(http, 1)
        holder = await wait_holder(server, pid, [])
        os.kill(holder.pid, signal.SIGSTOP)  # alive but silent, as a process stuck in C
        try:
            record = await wait_done(http, pid, timeout=120)
        finally:
            try:
                os.kill(holder.pid, signal.SIGKILL)  # ray.kill already ended it
            except ProcessLookupError:
                pass
        assert record["status"]["status_str"] == "success"
        assert record["status"]["worker"] != holder.worker_id
        assert server.base_services.store.attempts(pid) == 2
