"""Stored request size is bounded; /history can leave large fields out on request."""

import pytest
from conftest import make_services, show_prompt, wait_done

from comfy_core.api import create_app

WORKFLOW = {"id": "wf", "nodes": [{"id": i, "type": "X"} for i in range(200)]}


async def test_oversized_prompt_is_413_and_nothing_is_stored(client, services):
    extra = {"extra_pnginfo": {"workflow": {"blob": "x" * (20 * 1024 * 1024)}}}
    resp = await client.post("/prompt", json={"prompt": show_prompt(), "extra_data": extra})
    assert resp.status == 413
    body = await resp.json()
    assert body["error"]["type"] == "prompt_too_large" and body["node_errors"] == {}
    assert "--max-prompt-size" in body["error"]["message"]
    assert services.store.remaining() == 0 and await (await client.get("/history")).json() == {}
    ok = await client.post("/prompt", json={"prompt": show_prompt()})
    assert ok.status == 200


async def test_prompt_size_flag(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--max-prompt-size", "0.01"])  # 10 KiB
    client = await aiohttp_client(create_app(services))
    big = {"prompt": show_prompt(), "extra_data": {"note": "y" * 20000}}
    assert (await client.post("/prompt", json=big)).status == 413
    # a chunked body (no Content-Length) is measured too
    data = __import__("json").dumps(big).encode()

    async def chunks():
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    resp = await client.post("/prompt", data=chunks(),
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert (await client.post("/prompt", json={"prompt": show_prompt()})).status == 200


@pytest.fixture
async def two_done(client):
    """Two finished jobs: one with a small extra_data, one with a large workflow."""
    small = await (await client.post("/prompt", json={"prompt": show_prompt(1)})).json()
    large = await (await client.post("/prompt", json={
        "prompt": show_prompt(2), "extra_data": {"extra_pnginfo": {"workflow": WORKFLOW}}})
    ).json()
    for body in (small, large):
        await wait_done(client, body["prompt_id"])
    return small["prompt_id"], large["prompt_id"]


async def test_history_default_is_unchanged(client, two_done):
    small, large = two_done
    history = await (await client.get("/history")).json()
    assert list(history) == [small, large]
    assert history[large]["prompt"][3]["extra_pnginfo"]["workflow"] == WORKFLOW
    assert "omitted" not in history[large]


async def test_history_omit_parts(client, two_done):
    small, large = two_done
    history = await (await client.get("/history?omit=workflow,prompt")).json()
    record = history[large]
    assert "extra_pnginfo" not in record["prompt"][3] or \
        "workflow" not in record["prompt"][3]["extra_pnginfo"]
    assert record["prompt"][2] == {} and record["prompt"][1] == large
    assert record["omitted"] == ["prompt", "workflow"]
    assert record["outputs"] == {"2": {"values": [2]}}
    one = await (await client.get(f"/history/{large}?omit=outputs,extra_data")).json()
    assert one[large]["outputs"] == {} and one[large]["prompt"][3] == {}
    resp = await client.get("/history?omit=bogus")
    assert resp.status == 400 and "bogus" in (await resp.json())["error"]["message"]


async def test_history_max_field_bytes(client, two_done):
    small, large = two_done
    history = await (await client.get("/history?max_field_bytes=1000")).json()
    assert "omitted" not in history[small]
    assert history[small]["prompt"][2] == show_prompt(1)
    assert history[large]["omitted"] == ["extra_data"]
    assert history[large]["prompt"][3] == {} and history[large]["prompt"][2] == show_prompt(2)
    assert (await client.get("/history?max_field_bytes=-1")).status == 400
