"""A websocket client that stops reading is dropped; every other client keeps receiving."""

import asyncio
import base64
import json
import os
import socket

import aiohttp
import pytest

from comfy_core.api import create_app
from comfy_core.api.keys import HUB
from conftest import make_services

FRAME = b"\x00" * (512 * 1024)  # one big binary message (a full-size preview image)


def stalled_websocket(port: int, client_id: str) -> socket.socket:
    """A real websocket client with a tiny receive buffer that never reads a byte."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return s


async def wait_for(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def app_client(aiohttp_client, tmp_path):
    app = create_app(make_services(tmp_path))
    app[HUB].send_timeout = 1.0  # a stalled send is given up after this long
    return await aiohttp_client(app)


async def test_stalled_client_is_dropped_others_keep_receiving(app_client):
    hub = app_client.app[HUB]
    slow = stalled_websocket(app_client.port, "slow")
    try:
        async with aiohttp.ClientSession() as http:
            fast = await http.ws_connect(f"http://127.0.0.1:{app_client.port}/ws?clientId=fast")
            assert json.loads((await fast.receive()).data)["type"] == "status"
            await wait_for(lambda: set(hub.client_ids) == {"slow", "fast"})
            sent = 40  # 20 MB: far more than the socket buffers between us and `slow`
            for i in range(sent):
                hub.publish("preview-bytes", {}, binary=FRAME + bytes([i]), client_id=None,
                            routed=False)
            hub.publish("status", {"marker": "last"}, routed=False)
            got = 0
            while True:
                msg = await asyncio.wait_for(fast.receive(), 30)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    assert json.loads(msg.data)["data"] == {"marker": "last"}
                    break
                assert msg.type == aiohttp.WSMsgType.BINARY and msg.data[-1] == got
                got += 1
            assert got == sent  # nothing lost or reordered for the reader
            await wait_for(lambda: "slow" not in hub.client_ids)
            # the reader is still served after the drop
            hub.publish("status", {"marker": "after"}, routed=False)
            msg = await asyncio.wait_for(fast.receive(), 10)
            assert json.loads(msg.data)["data"] == {"marker": "after"}
            await fast.close()
    finally:
        slow.close()


async def test_queue_overflow_drops_only_that_client(app_client):
    hub = app_client.app[HUB]
    hub.max_queue_bytes = 2 * len(FRAME)  # three queued frames overflow it
    slow = stalled_websocket(app_client.port, "slow2")
    try:
        async with aiohttp.ClientSession() as http:
            fast = await http.ws_connect(f"http://127.0.0.1:{app_client.port}/ws?clientId=f2")
            await fast.receive()
            await wait_for(lambda: set(hub.client_ids) == {"slow2", "f2"})
            for i in range(12):
                hub.publish("preview-bytes", {}, binary=FRAME, client_id=None, routed=False)
                if i % 2:
                    # the reader keeps up, so only the stalled client's queue grows
                    for _ in range(2):
                        assert (await asyncio.wait_for(fast.receive(), 30)).type == \
                            aiohttp.WSMsgType.BINARY
            await wait_for(lambda: "slow2" not in hub.client_ids)
            assert "f2" in hub.client_ids
            await fast.close()
    finally:
        slow.close()
