"""Origin check, CORS, auth token, body limits and structured errors."""

import aiohttp
import pytest

from comfy_core.api import create_app
from conftest import make_services


async def test_cross_origin_rejected_same_origin_allowed(client):
    host = f"{client.host}:{client.port}"
    resp = await client.post("/prompt", json={"prompt": {}},
                             headers={"Origin": "http://evil.example", "Host": host})
    assert resp.status == 403 and (await resp.json())["error"]["type"] == "forbidden"
    resp = await client.get("/system_stats", headers={"Origin": f"http://{host}"})
    assert resp.status == 200


async def test_cors_mode(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--enable-cors-header"])
    client = await aiohttp_client(create_app(services))
    resp = await client.options("/prompt", headers={"Origin": "http://other"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    resp = await client.get("/queue", headers={"Origin": "http://other"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"


async def test_token_required_when_public(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--listen", "0.0.0.0"], {"COMFY_AUTH_TOKEN": "s3cret"})
    client = await aiohttp_client(create_app(services))
    resp = await client.get("/system_stats")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get("/system_stats", headers={"Authorization": "Bearer nope"})
            ).status == 401
    ok = await client.get("/system_stats", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200
    with_query = await client.get("/system_stats?token=s3cret")
    assert with_query.status == 200 and "comfy_token" in with_query.cookies
    assert (await client.get("/queue")).status == 200  # the cookie now authenticates
    client.session.cookie_jar.clear()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws")
    assert refused.value.status == 401
    ws = await client.ws_connect("/ws?token=s3cret")
    assert (await ws.receive_json())["type"] == "status"
    await ws.close()


def test_refuses_public_without_token(tmp_path):
    from dataclasses import replace

    services = make_services(tmp_path, ["--listen", "0.0.0.0"])
    assert services.settings.auth_token_generated and services.settings.auth_token
    with pytest.raises(RuntimeError, match="without an auth token"):
        create_app(replace(services, settings=replace(services.settings, auth_token=None)))
    services.store.close()


async def test_body_limit_and_malformed_json(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--max-upload-size", "0.001"])
    client = await aiohttp_client(create_app(services))
    resp = await client.post("/prompt", data=b"x" * 5000,
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413 and (await resp.json())["error"]["type"] == "too_large"
    resp = await client.post("/prompt", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["type"] == "invalid_json"
    resp = await client.get("/no/such/route")
    assert resp.status == 404 and (await resp.json())["error"]["type"] == "not_found"
    assert (await client.get("/system_stats")).status == 200


@pytest.mark.parametrize("body", [
    {"prompt": {}, "number": "high"}, {"prompt": {}, "number": True},
    {"prompt": {}, "prompt_id": "../x"}, {"prompt": {}, "extra_data": []},
    {"prompt": {}, "client_id": 5}, {"prompt": {}, "partial_execution_targets": "1"},
    {"prompt": []}, [1, 2],
])
async def test_prompt_bad_fields_are_400(client, body):
    resp = await client.post("/prompt", json=body)
    assert resp.status == 400
    assert "type" in (await resp.json())["error"]
