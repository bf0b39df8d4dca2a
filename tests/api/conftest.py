"""A real app (registry, executor, SQLite store, worker, hub) over small torch-free nodes."""

import time
from pathlib import Path

import pytest

from comfy_core.api import create_app
from comfy_core.execution.cache import make_cache
from comfy_core.execution.executor import Executor
from comfy_core.files import FolderPaths
from comfy_core.jobs import JobStore
from comfy_core.registry import NodeRegistry
from comfy_core.runtime import job
from comfy_core.services import Services
from comfy_core.settings import parse_settings


class ApiConst:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 100})}}

    def run(self, value):
        return (value,)


class ApiShow:
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    def run(self, value):
        return {"ui": {"values": [value]}}


class ApiSlow:
    """Reports `steps` progress steps, `delay` s apart, then outputs its steps."""

    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3, "min": 1, "max": 1000}),
                             "delay": ("FLOAT", {"default": 0.01, "min": 0, "max": 10})}}

    def run(self, steps, delay):
        for i in range(steps):
            time.sleep(delay)  # the node's work: a job that runs long enough to watch and interrupt
            job().progress(i + 1, steps)
        return {"ui": {"values": [steps]}}


class ApiFail:
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    def run(self, value):
        raise ValueError(f"boom {value}")


NODES = {"ApiConst": ApiConst, "ApiShow": ApiShow, "ApiSlow": ApiSlow, "ApiFail": ApiFail}


def make_services(base: Path, argv: list[str] | None = None, environ=None) -> Services:
    settings = parse_settings(["--base-directory", str(base), *(argv or [])], environ or {})
    folders = FolderPaths.from_settings(settings)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir, folders.user_dir):
        d.mkdir(parents=True, exist_ok=True)
    registry = NodeRegistry()
    registry.register_mappings(NODES, {"ApiShow": "Show value"}, "nodes")
    store = JobStore(settings.resolved_database(), max_history=settings.max_history)
    executor = Executor(registry, make_cache(settings.cache_kind))
    return Services(settings=settings, folders=folders, registry=registry, store=store,
                    executor=executor, web_root=base / "web")


def show_prompt(value: int = 5) -> dict:
    return {"1": {"class_type": "ApiConst", "inputs": {"value": value}},
            "2": {"class_type": "ApiShow", "inputs": {"value": ["1", 0]}}}


@pytest.fixture
def services(tmp_path):
    s = make_services(tmp_path)
    yield s
    s.store.close()


@pytest.fixture
async def client(services, aiohttp_client):
    return await aiohttp_client(create_app(services))


async def wait_done(client, prompt_id: str, timeout: float = 10.0) -> dict:
    """Poll /history until `prompt_id` has a record."""
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await client.get(f"/history/{prompt_id}")
        body = await resp.json()
        if prompt_id in body:
            return body[prompt_id]
        await asyncio.sleep(0.02)
    raise AssertionError(f"prompt {prompt_id} did not finish in {timeout}s")
