"""Cold start: the app answers the editor's files while the nodes load, API requests wait."""

import asyncio
import logging
import threading
from dataclasses import replace

import pytest
from aiohttp import web
from conftest import show_prompt, wait_done

from comfy_core.api import create_app
from comfy_core.api.keys import WORKER
from comfy_core.api.static import file_in
from comfy_core.registry.custom_nodes import PluginReport
from comfy_core.services import BaseServices, Startup


def write_editor(root):
    """A tiny editor: index page, one script, one core extension."""
    (root / "extensions" / "core").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>editor</title>")
    (root / "app.js").write_text("export const app = 1;")
    (root / "extensions" / "core" / "undo.js").write_text("export const undo = 1;")


def blocked_startup(services, release: threading.Event) -> Startup:
    def build(base: BaseServices):
        assert base.store is services.store
        assert release.wait(30), "test never released the build"
        return services

    return Startup.begin(BaseServices.of(services), build)


def count_waiters(startup: Startup) -> list[int]:
    """A list that grows by one each time a request starts waiting on `startup`'s build."""
    parked: list[int] = []
    wait = startup.wait

    async def counted() -> object:
        parked.append(1)
        return await wait()

    startup.wait = counted
    return parked


async def until(condition, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_static_answers_while_api_waits_for_nodes(tmp_path, services, aiohttp_client):
    write_editor(services.web_root)
    plugin_web = tmp_path / "plugweb"
    plugin_web.mkdir()
    (plugin_web / "p.js").write_text("export const p = 1;")
    plugin = PluginReport(name="plug", path=tmp_path, seconds=0.0, error=None,
                          web_dir=plugin_web, node_names=())
    release = threading.Event()
    startup = blocked_startup(replace(services, plugins=(plugin,), web_dirs={"plug": str(plugin_web)}), release)
    parked = count_waiters(startup)
    app = create_app(startup)
    arrived: list[str] = []

    @web.middleware
    async def record_arrival(request, handler):
        arrived.append(request.path)
        return await handler(request)

    app.middlewares.insert(0, record_arrival)
    client = await aiohttp_client(app)
    for path in ("/", "/index.html", "/app.js", "/extensions/core/undo.js", "/features",
                 "/api/features"):
        assert (await client.get(path)).status == 200, path
    assert "editor" in await (await client.get("/")).text()
    waiting = [asyncio.create_task(client.get("/object_info")),
               asyncio.create_task(client.post("/prompt", json={"prompt": show_prompt(3)})),
               asyncio.create_task(client.get("/extensions/plug/p.js")),
               asyncio.create_task(client.ws_connect("/ws?clientId=early"))]
    # The four requests have arrived and each waits on the build (the gate's only await):
    # nothing can answer them before the release.
    parked.clear()
    await until(lambda: {"/object_info", "/prompt", "/extensions/plug/p.js", "/ws"} <= set(arrived)
                and len(parked) >= 4)
    assert not any(task.done() for task in waiting)
    assert client.app[WORKER].worker is None
    release.set()
    info, posted, plugin_file, ws = await asyncio.gather(*waiting)
    assert info.status == 200 and "ApiConst" in await info.json()
    assert posted.status == 200 and plugin_file.status == 200
    record = await wait_done(client, (await posted.json())["prompt_id"])
    assert record["outputs"] == {"2": {"values": [3]}}
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "status" and first["data"]["sid"] == "early"
    await ws.close()
    assert client.app[WORKER].worker is not None


async def test_failed_build_serves_static_and_names_the_failure(services, aiohttp_client,
                                                                caplog):
    write_editor(services.web_root)

    def build(base):
        raise RuntimeError("custom node 'broken' exploded")

    startup = Startup.begin(BaseServices.of(services), build)
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="exploded"):
        await startup.wait()
    assert "loading the nodes failed" in caplog.text and "Traceback" in caplog.text
    assert isinstance(startup.error, RuntimeError) and startup.ready
    client = await aiohttp_client(create_app(startup))
    for method, path in (("GET", "/object_info"), ("POST", "/prompt"), ("GET", "/queue")):
        resp = await client.request(method, path, json={"prompt": show_prompt()})
        body = await resp.json()
        assert resp.status == 503, path
        assert body["error"]["type"] == "startup_failed"
        assert "RuntimeError: custom node 'broken' exploded" in body["error"]["details"]
    assert (await client.get("/")).status == 200
    assert (await client.get("/app.js")).status == 200
    assert (await client.get("/features")).status == 200
    assert client.app[WORKER].worker is None


async def test_build_that_exits_becomes_an_error(services):
    def build(base):
        raise SystemExit("plugin quit")

    startup = Startup.begin(BaseServices.of(services), build)
    with pytest.raises(RuntimeError, match="SystemExit: plugin quit"):
        await startup.wait()


async def test_cancelled_waiter_does_not_cancel_the_build(services):
    release = threading.Event()
    startup = blocked_startup(services, release)
    waiter = asyncio.create_task(startup.wait())
    await asyncio.sleep(0)  # one turn of the loop: the task runs up to its first await
    assert not waiter.done() and waiter.get_coro().cr_await is not None  # waiting on the build
    waiter.cancel()
    release.set()
    assert await asyncio.to_thread(startup.result, 10) is services
    assert startup.ready and startup.error is None


async def test_ready_is_logged_with_the_node_count(services, caplog):
    with caplog.at_level(logging.INFO):
        startup = Startup.begin(BaseServices.of(services), lambda base: services)
        assert await startup.wait() is services
    assert "nodes ready in" in caplog.text and "(4 node types)" in caplog.text


def test_done_startup(services):
    startup = Startup.done(services)
    assert startup.ready and startup.result() is services and startup.error is None
    assert startup.base == BaseServices.of(services)


def test_file_in_refuses_escapes(tmp_path):
    write_editor(tmp_path / "web")
    (tmp_path / "secret.txt").write_text("x")
    assert file_in(tmp_path / "web", "app.js") == tmp_path / "web" / "app.js"
    assert file_in(tmp_path / "web", "../secret.txt") is None
    assert file_in(tmp_path / "web", "extensions/core") is None
    assert file_in(None, "app.js") is None
