"""Host allow-list (DNS rebinding), the token rule for listen addresses, argv redaction."""

import asyncio
import socket

import aiohttp
import pytest

from comfy_core.api import create_app
from comfy_core.api.hosts import allowed_hosts, host_name
from comfy_core.settings import parse_settings
from conftest import make_services, show_prompt

EVIL = "evil.example"


def _evil(client, **extra: str) -> dict:
    """Headers of a page on a rebound name talking to this server (same port)."""
    return {"Host": f"{EVIL}:{client.port}", "Origin": f"http://{EVIL}:{client.port}", **extra}


@pytest.mark.parametrize("method,path", [
    ("GET", "/object_info"), ("GET", "/api/view?filename=x.png"), ("GET", "/history"),
    ("POST", "/prompt"), ("POST", "/api/upload/image"), ("GET", "/userdata?dir=workflows"),
    ("POST", "/userdata/workflows%2Fa.json"), ("GET", "/internal/logs"), ("GET", "/"),
    ("GET", "/system_stats"), ("OPTIONS", "/prompt"),
])
async def test_rebound_host_refused_everywhere(client, method, path):
    resp = await client.request(method, path, headers=_evil(client), data=b"{}")
    assert resp.status == 403
    body = await resp.json()
    assert body["error"]["type"] == "forbidden" and EVIL in body["error"]["message"]


async def test_rebound_host_refused_on_websocket(client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect("/ws", headers=_evil(client))
    assert err.value.status == 403
    ws = await client.ws_connect("/ws", headers={"Host": f"localhost:{client.port}"})
    assert (await ws.receive_json())["type"] == "status"
    await ws.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "127.0.0.2",
                                  "[::1]", "127.0.0.1:1", "localhost:8188"])
async def test_loopback_names_allowed(client, host):
    resp = await client.get("/system_stats", headers={"Host": host})
    assert resp.status == 200


async def test_missing_host_refused_only_when_state_changes(client):
    # aiohttp's client always sends Host; a raw HTTP/1.0 request can omit it.
    async def raw(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer

    body = b'{"prompt": {}}'
    post = await raw(b"POST /prompt HTTP/1.0\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert post.startswith(b"HTTP/1.0 403") or post.startswith(b"HTTP/1.1 403")
    assert b"Host header" in post
    get = await raw(b"GET /system_stats HTTP/1.0\r\n\r\n")
    assert b" 200 " in get.split(b"\r\n")[0]


async def test_allow_host_flag(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--allow-host", "comfy.lan", "--allow-host",
                                        "box.local,Studio"])
    client = await aiohttp_client(create_app(services))
    for host in ("comfy.lan:8188", "box.local", "studio"):
        assert (await client.get("/queue", headers={"Host": host})).status == 200
    resp = await client.post("/prompt", json={"prompt": show_prompt()},
                             headers={"Host": "comfy.lan"})
    assert resp.status == 200
    assert (await client.get("/queue", headers={"Host": "comfy.lan.evil.example"})).status == 403


async def test_allow_any_host_turns_the_check_off(aiohttp_client, tmp_path):
    services = make_services(tmp_path, ["--allow-host", "*"], {"COMFY_AUTH_TOKEN": "t0k"})
    client = await aiohttp_client(create_app(services))
    resp = await client.get("/queue", headers={"Host": "anything.example",
                                               "Authorization": "Bearer t0k"})
    assert resp.status == 200


def test_host_name_parsing():
    assert host_name("Example.COM:80") == "example.com"
    assert host_name("[::1]:8188") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("localhost.") == "localhost"
    assert host_name("") == ""


def test_allowed_hosts_include_listen_and_flags():
    settings = parse_settings(["--listen", "10.1.2.3,127.0.0.5", "--allow-host", "A.lan"], {})
    names = allowed_hosts(settings)
    assert {"10.1.2.3", "127.0.0.5", "a.lan", "localhost", "127.0.0.1", "::1"} <= names
    assert EVIL not in names


# -- item 2: which listen addresses need a token -----------------------------------------
@pytest.mark.parametrize("argv,needs_token", [
    ([], False),
    (["--listen", "127.0.0.2"], False),
    (["--listen", "localhost"], False),
    (["--listen", "::1"], False),
    (["--listen", "127.0.0.2", "--allow-host", "*"], True),
    (["--allow-host", "*"], True),
    (["--listen", "127.0.0.1,192.168.1.10"], True),
    (["--listen"], True),
    (["--listen", "127.0.0.2", "--allow-host", "comfy.lan"], False),
])
def test_token_rule(argv, needs_token):
    settings = parse_settings(argv, {}, token_factory=lambda: "generated")
    assert settings.requires_token is needs_token
    assert settings.auth_token == ("generated" if needs_token else None)


async def test_other_loopback_address_served_by_name(tmp_path):
    """A real server on 127.0.0.2: answers its own address, refuses a rebound name, no
    token needed (loopback and the Host check is on)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("this machine cannot bind 127.0.0.2")
    from aiohttp import web
    services = make_services(tmp_path, ["--listen", "127.0.0.2"])
    assert services.settings.auth_token is None
    runner = web.AppRunner(create_app(services))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as http:
            ok = await http.get(f"http://127.0.0.2:{port}/queue")
            assert ok.status == 200
            bad = await http.get(f"http://127.0.0.2:{port}/queue", headers={"Host": EVIL})
            assert bad.status == 403
    finally:
        await runner.cleanup()
        services.store.close()


# -- item 3: the token never shows in /system_stats ---------------------------------------
@pytest.mark.parametrize("argv", [
    ["server.py", "--auth-token", "s3cr3t-value", "--port", "1"],
    ["server.py", "--auth-token=s3cr3t-value"],
    ["server.py", "--auth-tok", "s3cr3t-value"],
])
async def test_system_stats_argv_redacts_token(aiohttp_client, tmp_path, monkeypatch, argv):
    monkeypatch.setattr("sys.argv", argv)
    services = make_services(tmp_path, ["--auth-token", "s3cr3t-value"])
    client = await aiohttp_client(create_app(services))
    resp = await client.get("/system_stats", headers={"Authorization": "Bearer s3cr3t-value"})
    stats = await resp.json()
    shown = stats["system"]["argv"]
    assert "s3cr3t-value" not in " ".join(shown)
    assert len(shown) == len(argv) and shown[0] == "server.py"
    assert any("redacted" in a for a in shown)
