"""The cases of bench/attack.py, by group; each returns table rows (case, expected, got)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
from attack import TOKEN, Row, Target, answer, wait_history

from comfy_core.tools.hostile_images import blank_png, many_frames_gif


def _image(prefix: str, color: int = 0, size: int = 8) -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size,
                                                         "batch_size": 1, "color": color}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                        "filename_prefix": prefix}}}


def _status_row(case: str, want: int, kind: str, got: tuple[int, str]) -> Row:
    return Row(case, f"{want} {kind}", f"{got[0]} {got[1]}", got[0] == want)


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return data


# -- security ----------------------------------------------------------------------------
async def security(t: Target, args) -> list[Row]:
    evil = {"Host": f"evil.example:{t.port}", "Origin": f"http://evil.example:{t.port}"}
    rows = []
    async with t.session() as http:
        for method, path in (("GET", "/object_info"), ("GET", "/history"), ("POST", "/prompt"),
                             ("GET", "/view?filename=x.png"), ("POST", "/upload/image"),
                             ("POST", "/api/userdata/workflows%2Fx.json")):
            got = await answer(http, method, path, headers=evil, data=b"{}")
            rows.append(_status_row(f"rebound Host: {method} {path}", 403, "forbidden", got))
        try:
            ws = await http.ws_connect("/ws", headers=evil)
            await ws.close()
            got_ws = (101, "upgraded")
        except aiohttp.WSServerHandshakeError as exc:
            got_ws = (exc.status, "refused")
        rows.append(_status_row("rebound Host: websocket /ws", 403, "refused", got_ws))
        async with http.get("/system_stats") as resp:
            stats = await resp.text()
        rows.append(Row("token in /system_stats argv", "redacted",
                        "redacted" if TOKEN not in stats else "LEAKED", TOKEN not in stats))
    async with aiohttp.ClientSession(t.url) as anonymous:
        rows.append(_status_row("no token: GET /queue", 401, "unauthorized",
                                await answer(anonymous, "GET", "/queue")))
    raw = await _raw(t.port, b"POST /prompt HTTP/1.0\r\nAuthorization: Bearer " + TOKEN.encode()
                     + b"\r\nContent-Length: 2\r\n\r\n{}")
    status = raw.split(b" ", 2)[1].decode() if raw else "no answer"
    rows.append(Row("POST /prompt without Host (HTTP/1.0)", "403", status, status == "403"))
    return rows


# -- bad input ---------------------------------------------------------------------------
async def bad_input(t: Target, args) -> list[Row]:
    rows = []
    json_bodies = (("deep JSON ([ x 100000)", b"[" * 100000, "json_too_deep"),
                   ("integer of 5000 digits", b'{"prompt": {}, "n": ' + b"7" * 5000 + b"}",
                    "invalid_json"))
    async with t.session() as http:
        for name, body, kind in json_bodies:
            for path in ("/prompt", "/api/settings/x"):
                got = await answer(http, "POST", path, data=body)
                rows.append(_status_row(f"{name}: POST {path}", 400, kind, got))
        for query in ("/history?offset=" + "9" * 30, "/history?max_items=" + "9" * 5000,
                      "/api/jobs?limit=" + "9" * 30, "/api/jobs?offset=" + "9" * 30):
            got = await answer(http, "GET", query)
            rows.append(_status_row(f"huge query int: {query[:24]}...", 400, "*", got))
        rows += await _bad_uploads(t, http)
        rows += await _amplifiers(t, http)
        rows += await _big_requests(http)
    return rows


def _form(name: str, data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("image", data, filename=name, content_type="application/octet-stream")
    for key, value in fields.items():
        form.add_field(key, value)
    return form


async def _bad_uploads(t: Target, http: aiohttp.ClientSession) -> list[Row]:
    outside = t.base.parent / "outside.png"
    outside.write_bytes(blank_png(4, 4))
    (t.base / "input" / "link.png").symlink_to(outside)
    got = await answer(http, "POST", "/upload/image",
                       data=_form("link.png", blank_png(4, 4), overwrite="true"))
    rows = [_status_row("upload over a link leaving input/", 400, "invalid_upload", got)]
    got = await answer(http, "POST", "/upload/image", data=b"--xyz\r\nbroken",
                       headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    rows.append(_status_row("broken multipart body", 400, "invalid_multipart", got))
    return rows


async def _amplifiers(t: Target, http: aiohttp.ClientSession) -> list[Row]:
    big = blank_png(12000, 12000)
    rows = [_status_row(f"upload 12000x12000 PNG ({len(big) // 1024} KB)", 413, "image_too_large",
                        await answer(http, "POST", "/upload/image", data=_form("big.png", big)))]
    gif = many_frames_gif(600)
    rows.append(_status_row(f"upload 600-frame GIF ({len(gif) // 1024} KB)", 413,
                            "image_too_large",
                            await answer(http, "POST", "/upload/image", data=_form("a.gif", gif))))
    (t.base / "output" / "huge.png").write_bytes(big)
    start = time.perf_counter()
    got = await answer(http, "GET", "/view?filename=huge.png&preview=webp;90")
    ms = (time.perf_counter() - start) * 1000
    rows.append(Row("webp preview of a 12000x12000 output", "413 image_too_large, fast",
                    f"{got[0]} {got[1]} in {ms:.0f} ms", got[0] == 413 and ms < 2000))
    (t.base / "output" / "wide.png").write_bytes(blank_png(6000, 3000))
    start = time.perf_counter()
    async with http.get("/view?filename=wide.png&preview=jpeg") as resp:
        data = await resp.read()
    ms = (time.perf_counter() - start) * 1000
    size = _jpeg_size(data)
    rows.append(Row("jpeg preview of a 6000x3000 output", "200, scaled to 4096 wide",
                    f"{resp.status}, {size} in {ms:.0f} ms", resp.status == 200
                    and size == (4096, 2048)))
    return rows


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    from io import BytesIO

    from PIL import Image
    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except OSError:
        return None


async def _big_requests(http: aiohttp.ClientSession) -> list[Row]:
    extra = {"extra_pnginfo": {"workflow": {"blob": "x" * (20 << 20)}}}
    got = await answer(http, "POST", "/prompt", json={"prompt": _image("x"), "extra_data": extra})
    rows = [_status_row("POST /prompt with 20 MB of extra_data", 413, "prompt_too_large", got)]
    chain = {"0": {"class_type": "AttackConst", "inputs": {"value": -1}}}
    for i in range(1, 2000):
        chain[str(i)] = {"class_type": "AttackPass", "inputs": {"value": [str(i - 1), 0]}}
    start = time.perf_counter()
    got = await answer(http, "POST", "/prompt", json={"prompt": chain})
    ms = (time.perf_counter() - start) * 1000
    rows.append(Row("2,000 chained failing outputs", "400, linear validation",
                    f"{got[0]} {got[1]} in {ms:.0f} ms", got[0] == 400 and ms < 3000))
    return rows + await _hostile_graphs(http)


async def _timed_post(http: aiohttp.ClientSession, prompt: dict) -> tuple[int, dict, float, int]:
    """(status, body, seconds, body bytes) of POST /prompt."""
    start = time.perf_counter()
    async with http.post("/prompt", json={"prompt": prompt}) as resp:
        raw = await resp.read()
    return resp.status, json.loads(raw), time.perf_counter() - start, len(raw)


async def _hostile_graphs(http: aiohttp.ClientSession) -> list[Row]:
    """Shapes that made validation quadratic: one long dependency cycle, and an erroring
    chain feeding many outputs (each node's error has every output as a dependent)."""
    n = 30000
    cycle = {str(i): {"class_type": "AttackConst", "inputs": {"value": [str((i - 1) % n), 0]}}
             for i in range(n)}
    cycle["out"] = {"class_type": "AttackPass", "inputs": {"value": ["0", 0]}}
    status, body, seconds, size = await _timed_post(http, cycle)
    cycled = sum(e["errors"][0]["type"] == "dependency_cycle"
                 for e in body.get("node_errors", {}).values())
    rows = [Row(f"cycle of {n:,} nodes", "400, every member named, linear size",
                f"{status}, {cycled:,} members, {size >> 20} MB in {seconds:.1f} s",
                status == 400 and cycled == n and size < 64 << 20)]
    k = 3000
    chain = {"0": {"class_type": "AttackPair", "inputs": {"a": -1, "b": -1}}}
    for i in range(1, k):
        chain[str(i)] = {"class_type": "AttackPair", "inputs": {"a": [str(i - 1), 0], "b": -1}}
    for j in range(k):
        chain[f"o{j}"] = {"class_type": "AttackPass", "inputs": {"value": [str(k - 1), 0]}}
    status, body, seconds, size = await _timed_post(http, chain)
    cut = body.get("error", {}).get("extra_info", {}).get("dependent_outputs_truncated")
    rows.append(Row(f"{k:,} erroring nodes x {k:,} outputs", "400, lists cut short, bounded",
                    f"{status}, {len(body.get('node_errors', {})):,} nodes, cut={cut}, "
                    f"{size >> 20} MB in {seconds:.1f} s",
                    status == 400 and cut is True and len(body["node_errors"]) == k
                    and size < 64 << 20))
    return rows


# -- load and a stalled websocket client -------------------------------------------------
async def load(t: Target, args) -> list[Row]:
    async with t.session() as http:
        listeners = [await http.ws_connect(f"/ws?clientId=listen{i}")
                     for i in range(args.listeners)]
        heard = [0] * len(listeners)

        async def listen(i: int) -> None:
            async for msg in listeners[i]:
                heard[i] += msg.type == aiohttp.WSMsgType.TEXT

        tasks = [asyncio.create_task(listen(i)) for i in range(len(listeners))]
        start = time.monotonic()
        per = max(args.jobs // args.clients, 1)
        results = await asyncio.gather(*(_submitter(http, i, per) for i in range(args.clients)))
        ids = [p for done, sent in results for p in sent]
        history = await wait_history(http, ids)
        seconds = time.monotonic() - start
        for ws in listeners:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        recorded = sum(history.get(p, {}).get("status", {}).get("status_str") == "success"
                       for p in ids)
        events = sum(len(done) for done, _ in results)
        rows = [Row(f"load: {len(ids)} jobs, {args.clients} clients, {args.listeners} listeners",
                    "all recorded, all done events, listeners served",
                    f"{recorded}/{len(ids)} ok, {events} done events, "
                    f"{min(heard, default=0)}+ msgs each, {seconds:.1f} s",
                    recorded == events == len(ids) and min(heard, default=1) > 0)]
        rows.append(await _history_sizes(http))
        rows.append(await _stalled_client(t, http))
    return rows


async def _submitter(http: aiohttp.ClientSession, i: int, count: int) -> tuple[set, list]:
    ws = await http.ws_connect(f"/ws?clientId=sub{i}")
    await ws.receive()
    sent = []
    for j in range(count):
        async with http.post("/prompt", json={"prompt": _image(f"load/c{i}", j % 255),
                                              "client_id": f"sub{i}"}) as resp:
            sent.append((await resp.json())["prompt_id"])
    done: set[str] = set()
    while len(done) < len(sent):
        msg = await ws.receive(timeout=300)
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        if data["type"] == "executing" and data["data"].get("node") is None:
            done.add(data["data"]["prompt_id"])
    await ws.close()
    return done, sent


async def _history_sizes(http: aiohttp.ClientSession) -> Row:
    async with http.get("/history?max_items=50") as resp:
        full = len(await resp.read())
    async with http.get("/history?max_items=50&omit=prompt,workflow") as resp:
        slim = len(await resp.read())
    return Row("/history?omit=prompt,workflow (50 records)", "smaller than the full answer",
               f"{slim // 1024} KB vs {full // 1024} KB", slim < full)


def _stalled_socket(port: int, client_id: str) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              f"Authorization: Bearer {TOKEN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
              .encode())
    return s


def _closed_by_server(s: socket.socket, timeout: float) -> bool:
    s.settimeout(1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if s.recv(1 << 20) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionError:
            return True
    return False


async def _stalled_client(t: Target, http: aiohttp.ClientSession) -> Row:
    stalled = _stalled_socket(t.port, "stalled")
    brisk = await http.ws_connect("/ws?clientId=brisk")
    await brisk.receive()
    await asyncio.sleep(0.5)
    big = [await (await http.post("/prompt", json={"prompt": {"1": {
        "class_type": "AttackBlob", "inputs": {"size": 4 << 20, "seed": i}}},
        "client_id": "stalled"})).json() for i in range(12)]
    small = [(await (await http.post("/prompt", json={"prompt": _image("brisk", i),
                                                      "client_id": "brisk"})).json())
             ["prompt_id"] for i in range(12)]
    done = set()
    while len(done) < len(small):
        msg = json.loads((await brisk.receive(timeout=120)).data)
        if msg["type"] == "executing" and msg["data"].get("node") is None:
            done.add(msg["data"]["prompt_id"])
    await wait_history(http, [b["prompt_id"] for b in big])
    dropped = await asyncio.to_thread(_closed_by_server, stalled, 60)
    stalled.close()
    await brisk.close()
    return Row("websocket client that stops reading (48 MB for it)",
               "it is dropped, the other gets all events",
               f"{'dropped' if dropped else 'still connected'}, other got {len(done)}/12",
               dropped and len(done) == 12)
