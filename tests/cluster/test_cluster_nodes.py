"""Two Ray nodes on this machine (ray.cluster_utils.Cluster), each with its own models
folder: the server lists what the workers have, sends a job only to a worker that has its
checkpoint, and refuses at submit a prompt whose files no single worker has, naming them."""

import json

import aiohttp
import pytest
from cluster_harness import (
    DEMO,
    RAY_FLAGS,
    ClusterServer,
    demo_prompt,
    make_base,
    submit,
    wait_done,
)

ray_cluster_utils = pytest.importorskip("ray.cluster_utils")

MB = 1024 * 1024
SHARED, ONLY_A, ONLY_B = "shared.safetensors", "only-a.safetensors", "only-b.safetensors"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    node_a = make_base(tmp_path_factory.mktemp("node-a"), {SHARED: DEMO, ONLY_A: DEMO})
    node_b = make_base(tmp_path_factory.mktemp("node-b"), {SHARED: DEMO, ONLY_B: DEMO})
    common = {"num_cpus": 1, "object_store_memory": 80 * MB}
    nodes = ray_cluster_utils.Cluster(initialize_head=True, head_node_args={
        **common, "include_dashboard": False,
        "env_vars": {"COMFY_WORKER_BASE_DIRECTORY": str(node_a)}})
    nodes.add_node(**common, env_vars={"COMFY_WORKER_BASE_DIRECTORY": str(node_b)})
    server_base = make_base(tmp_path_factory.mktemp("server"), {})  # no models of its own
    try:
        srv = ClusterServer(server_base, "--ray", nodes.address, "--ray-workers", "2",
                            *RAY_FLAGS[:2])
        srv.wait_ready()
    except BaseException:
        nodes.shutdown()
        raise
    yield srv
    srv.close()
    nodes.shutdown()


def worker_with(server, name: str) -> str:
    [handle] = [h for h in server.cluster.pool.ready()
                if name in h.caps.files.get("checkpoints", ())]
    return handle.worker_id


async def test_workers_on_two_nodes_with_their_own_files(server):
    handles = server.cluster.pool.ready()
    assert len({h.node_id for h in handles}) == 2
    async with aiohttp.ClientSession(server.url) as http:
        info = await (await http.get("/object_info/CheckpointLoaderSimple")).json()
        names = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
        assert names == [ONLY_A, ONLY_B, SHARED]
        stats = await (await http.get("/system_stats")).json()
        assert sorted(d["worker"] for d in stats["devices"]) == sorted(h.worker_id for h in handles)


async def test_jobs_go_where_their_checkpoint_is(server):
    async with aiohttp.ClientSession(server.url) as http:
        plan = [ONLY_A, ONLY_A, ONLY_B, ONLY_A, ONLY_B, ONLY_B]
        ids = [await submit(http, demo_prompt(ckpt, seed=i)) for i, ckpt in enumerate(plan)]
        records = [await wait_done(http, pid) for pid in ids]
        assert {r["status"]["status_str"] for r in records} == {"success"}
        assert [r["status"]["worker"] for r in records] == [
            worker_with(server, ckpt) for ckpt in plan]


async def test_prompt_no_single_worker_can_run_is_refused(server):
    prompt = demo_prompt(ONLY_A)
    prompt["10"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ONLY_B}}
    prompt["8"]["inputs"]["vae"] = ["10", 2]
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post("/prompt", json={"prompt": prompt})
        body = await resp.json()
        queue = await (await http.get("/queue")).json()
    assert resp.status == 400
    assert body["error"]["type"] == "no_worker_for_prompt"
    message = body["error"]["message"]
    assert f"'{ONLY_A}' (checkpoints) is on {worker_with(server, ONLY_A)}" in message
    assert f"'{ONLY_B}' (checkpoints) is on {worker_with(server, ONLY_B)}" in message
    assert set(body["node_errors"]) == {"4", "10"}
    assert ONLY_B in json.dumps(body["node_errors"]["10"])
    assert queue == {"queue_running": [], "queue_pending": []}
