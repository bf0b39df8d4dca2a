"""Websocket /ws with a real client: handshake, routing, ordering, previews, reconnect."""

import asyncio
import json
import struct

from conftest import show_prompt

from comfy_core.api.keys import HUB


async def receive_json(ws, timeout=5.0):
    msg = await asyncio.wait_for(ws.receive(), timeout)
    return json.loads(msg.data)


async def collect_until_done(ws, prompt_id, timeout=10.0):
    out = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if isinstance(msg.data, bytes):
            out.append(("binary", msg.data))
            continue
        data = json.loads(msg.data)
        out.append(data)
        if data["type"] == "executing" and data["data"].get("node") is None \
                and data["data"].get("prompt_id") == prompt_id:
            return out


async def test_first_status_has_sid_and_feature_flags(client, services):
    ws = await client.ws_connect("/ws?clientId=abc")
    first = await receive_json(ws)
    assert first == {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                "sid": "abc"}}
    await ws.send_str(json.dumps({"type": "feature_flags",
                                  "data": {"supports_preview_metadata": True}}))
    reply = await receive_json(ws)
    assert reply["type"] == "feature_flags"
    assert reply["data"]["supports_preview_metadata"] is True
    assert reply["data"]["max_upload_size"] == float(services.settings.max_upload_bytes)
    await ws.close()
    ws2 = await client.ws_connect("/api/ws")
    sid = (await receive_json(ws2))["data"]["sid"]
    assert len(sid) == 32
    await ws2.close()


async def test_execution_messages_in_order_to_own_client_only(client):
    ws = await client.ws_connect("/ws?clientId=me")
    other = await client.ws_connect("/ws?clientId=other")
    await receive_json(ws)
    await receive_json(other)
    resp = await client.post("/prompt", json={"prompt": show_prompt(3), "client_id": "me"})
    pid = (await resp.json())["prompt_id"]
    msgs = await collect_until_done(ws, pid)
    kinds = [m["type"] for m in msgs]
    assert kinds[0] == "status"
    exec_kinds = [k for k in kinds if k not in ("status", "progress_state")]
    assert exec_kinds == ["execution_start", "execution_cached", "executing", "executing",
                          "executed", "execution_success", "executing"]
    executed = next(m for m in msgs if m["type"] == "executed")
    assert executed["data"]["node"] == "2" and executed["data"]["output"] == {"values": [3]}
    assert executed["data"]["prompt_id"] == pid
    # Proof that nothing of the first job reached `other`: a second job of its own. The hub
    # delivers in publish order, so all the first job sent `other` precedes that job's start.
    resp = await client.post("/prompt", json={"prompt": show_prompt(4), "client_id": "other"})
    pid2 = (await resp.json())["prompt_id"]
    seen = []
    while not seen or seen[-1]["type"] != "execution_start":
        seen.append(await receive_json(other))
    assert seen[-1]["data"]["prompt_id"] == pid2
    assert seen[:-1] and {m["type"] for m in seen[:-1]} == {"status"}
    await collect_until_done(other, pid2)
    await ws.close()
    await other.close()


async def test_no_client_id_broadcasts_only_progress(client):
    ws = await client.ws_connect("/ws")
    await receive_json(ws)
    prompt = {"1": {"class_type": "ApiSlow", "inputs": {"steps": 2, "delay": 0.0}}}
    await client.post("/prompt", json={"prompt": prompt})
    kinds = set()
    # Until the status that says the queue is empty again (sent after the job's record):
    # a short silence is no sign the job is over on a busy machine.
    while True:
        m = await receive_json(ws, timeout=30)
        kinds.add(m["type"])
        if m["type"] == "status" and m["data"]["status"]["exec_info"]["queue_remaining"] == 0:
            break
    assert "progress" in kinds
    assert not kinds & {"execution_start", "executing", "executed", "execution_success"}
    await ws.close()


async def test_preview_frames_type_1_and_4(client):
    hub = client.app[HUB]
    plain = await client.ws_connect("/ws?clientId=plain")
    meta = await client.ws_connect("/ws?clientId=meta")
    await receive_json(plain)
    await receive_json(meta)
    await meta.send_str(json.dumps({"type": "feature_flags",
                                    "data": {"supports_preview_metadata": True}}))
    await receive_json(meta)
    info = {"node_id": "3", "prompt_id": "p", "display_node_id": "3", "parent_node_id": None,
            "real_node_id": "3", "image_type": "image/png"}
    hub.publish("preview", info, binary=b"PNGDATA", client_id=None)
    frame1 = (await asyncio.wait_for(plain.receive(), 5)).data
    frame4 = (await asyncio.wait_for(meta.receive(), 5)).data
    assert frame1 == struct.pack(">II", 1, 2) + b"PNGDATA"
    kind, length = struct.unpack(">II", frame4[:8])
    assert kind == 4 and json.loads(frame4[8:8 + length]) == info
    assert frame4[8 + length:] == b"PNGDATA"
    await plain.close()
    await meta.close()


async def test_same_client_id_replaces_socket_and_reconnect_gets_executing(client):
    hub = client.app[HUB]
    first = await client.ws_connect("/ws?clientId=dup")
    await receive_json(first)
    second = await client.ws_connect("/ws?clientId=dup")
    await receive_json(second)
    msg = await asyncio.wait_for(first.receive(), 5)
    assert msg.type.name in ("CLOSE", "CLOSED", "CLOSING")
    assert hub.client_ids == ["dup"]
    hub.publish("executing", {"node": "7", "prompt_id": "p"}, client_id="dup")
    hub.publish("executing", {"node": "3", "prompt_id": "q"}, client_id="other")
    await hub.drain()
    assert await receive_json(second) == {"type": "executing",
                                          "data": {"node": "7", "prompt_id": "p"}}
    third = await client.ws_connect("/ws?clientId=dup")
    await receive_json(third)
    assert await receive_json(third) == {"type": "executing", "data": {"node": "7"}}
    hub.publish("executing", {"node": None, "prompt_id": "p"}, client_id="dup")
    await hub.drain()
    assert hub.running_node("dup") is None and hub.running_node("other") == "3"
    await second.close()
    await third.close()


async def test_bad_client_id_rejected(client):
    resp = await client.get("/ws?clientId=../../x")
    assert resp.status == 400
