"""Hostile JSON bodies and query parameters: always a 4xx JSON error, never a 500."""

import pytest

from conftest import show_prompt, wait_done

DEEP = b"[" * 100000
NEAR_LIMIT = b"[" * 600 + b"]" * 600  # parses, but deeper than any real graph
BIG_INT = b'{"prompt": {}, "x": ' + b"7" * 5000 + b"}"
JSON_ROUTES = [("POST", "/prompt"), ("POST", "/api/queue"), ("POST", "/history"),
               ("POST", "/interrupt"), ("POST", "/free"), ("POST", "/users"),
               ("POST", "/settings"), ("POST", "/api/settings/Comfy.X"),
               ("PATCH", "/internal/logs/subscribe")]


@pytest.mark.parametrize("method,path", JSON_ROUTES)
@pytest.mark.parametrize("body", [DEEP, NEAR_LIMIT, BIG_INT], ids=["deep", "near", "bigint"])
async def test_hostile_json_is_400_on_every_json_route(client, method, path, body):
    resp = await client.request(method, path, data=body,
                                headers={"Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["type"] in ("json_too_deep", "invalid_json")
    assert error["message"]


async def test_huge_number_field_is_400(client):
    resp = await client.post("/prompt", data=b'{"prompt": {}, "number": 1' + b"0" * 400 + b"}",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["type"] == "invalid_number"


async def test_deep_websocket_message_is_ignored(client):
    ws = await client.ws_connect("/ws?clientId=deep")
    assert (await ws.receive_json())["type"] == "status"
    await ws.send_str("[" * 100000)
    resp = await client.post("/prompt", json={"prompt": show_prompt(), "client_id": "deep"})
    assert resp.status == 200
    # the socket still delivers this client's events
    while (msg := await ws.receive_json(timeout=10))["type"] != "execution_start":
        pass
    await ws.close()


HUGE = "1" + "0" * 30
HUGER = "9" * 5000


@pytest.mark.parametrize("query", [
    f"/history?max_items={HUGE}", f"/history?offset={HUGE}", f"/history?offset=-{HUGE}",
    f"/history?max_items={HUGER}", f"/api/jobs?limit={HUGE}", f"/api/jobs?offset={HUGE}",
    f"/api/jobs?offset={HUGER}", "/history?max_items=1.5", "/api/jobs?limit=x",
])
async def test_huge_query_integers_are_400(client, query):
    resp = await client.get(query)
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    message = body["error"]["message"] if isinstance(body["error"], dict) else body["error"]
    assert "max_items" in message or "offset" in message or "limit" in message


async def test_reasonable_query_integers_still_work(client):
    pid = (await (await client.post("/prompt", json={"prompt": show_prompt()})).json())[
        "prompt_id"]
    await wait_done(client, pid)
    assert list(await (await client.get("/history?max_items=5&offset=0")).json()) == [pid]
    jobs = await (await client.get("/api/jobs?limit=1000000&offset=-5")).json()
    assert jobs["pagination"]["offset"] == 0 and len(jobs["jobs"]) == 1
