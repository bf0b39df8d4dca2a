"""A classic pack using ComfyUI's plugin modules the way popular packs do: folder
registrations, routes on PromptServer.instance, websocket events, ProgressBar, node
expansion, an on-prompt hook, a web directory and a prestartup script."""

import os
import sys
import time
from pathlib import Path

import folder_paths
from aiohttp import web
from server import BinaryEventTypes, PromptServer

import comfy.utils
import nodes
from comfy_api import feature_flags
from comfy_execution.graph_utils import GraphBuilder

HERE = Path(__file__).parent
with (Path(folder_paths.base_path) / "order.log").open("a") as log:
    log.write(f"import {__name__ == str(HERE)} {'torch' in sys.modules}\n")

folder_paths.add_model_folder_path("probe_models", os.path.join(folder_paths.models_dir, "probe"))
folder_paths.folder_names_and_paths["probe_direct"] = (
    [os.path.join(folder_paths.models_dir, "direct")], {".bin"})
folder_paths.add_model_folder_path("loras", os.path.join(folder_paths.models_dir, "extra_loras"))

routes = PromptServer.instance.routes
assert PromptServer.instance.loop is not None and PromptServer.instance.loop.is_running()
feature_flags.SERVER_FEATURE_FLAGS["probe_flag"] = True  # advertised to every client


@routes.get("/probe/hello")
async def hello(request):
    return web.json_response({"hello": request.query.get("name", "world")})


@routes.post("/probe/send")
async def send(request):
    body = await request.json()
    server, sid = PromptServer.instance, body.get("sid")
    from PIL import Image

    server.send_sync("probe.event", {"n": 1}, sid)
    server.send_sync(BinaryEventTypes.UNENCODED_PREVIEW_IMAGE,
                     ("PNG", Image.new("RGB", (4, 4), (255, 0, 0)), None), sid)
    server.send_sync(9, b"raw-bytes", sid)
    server.send_progress_text("hello text", "7", sid)
    await server.send("probe.async", {"n": 2}, sid)
    return web.json_response({"sockets": sorted(server.sockets_metadata)})


@routes.post("/probe/interrupt")
async def interrupt(request):
    nodes.interrupt_processing()  # ComfyUI's global interrupt, from the server loop
    return web.json_response({"ok": True})


nodes.EXTENSION_WEB_DIRS["probe_extra"] = str(HERE / "static")

if not PromptServer.instance.app.router.frozen:
    PromptServer.instance.app.add_routes([web.static("/probe_static", str(HERE / "static"))])


def add_hundred(body):
    """On-prompt hook: every ProbeAdd gets 100 added to its `b` input."""
    for node in body.get("prompt", {}).values():
        if isinstance(node, dict) and node.get("class_type") == "ProbeAdd":
            node["inputs"]["b"] = node["inputs"].get("b", 0) + 100
    return body


PromptServer.instance.add_on_prompt_handler(add_hundred)


class ProbePicker:
    CATEGORY = "probe"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "pick"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"name": (folder_paths.get_filename_list("probe_models"),),
                             "direct": (folder_paths.get_filename_list("probe_direct"),),
                             "ckpt": (folder_paths.get_filename_list("checkpoints"),)}}

    def pick(self, name, direct, ckpt):
        return (folder_paths.get_full_path("probe_models", name),)


class ProbeAdd:
    CATEGORY = "probe"
    RETURN_TYPES = ("INT",)
    FUNCTION = "add"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0, "min": -10**9, "max": 10**9}),
                             "b": ("INT", {"default": 0, "min": -10**9, "max": 10**9})}}

    def add(self, a, b):
        return (a + b,)


class ProbeShow:
    CATEGORY = "probe"
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"forceInput": True})}}

    def show(self, value):
        return {"ui": {"value": [value]}}


class ProbeProgress:
    """Counts `steps` with a ProgressBar; tells the client who runs it."""

    CATEGORY = "probe"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3, "min": 1, "max": 100000}),
                             "delay": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0})}}

    def run(self, steps, delay):
        server = PromptServer.instance
        server.send_sync("probe.running", {"client": server.client_id,
                                           "node": server.last_node_id}, server.client_id)
        bar = comfy.utils.ProgressBar(steps)
        for _ in range(steps):
            time.sleep(delay)  # the node's work: long enough for progress to be seen
            bar.update(1)
        return (steps,)


class ProbeExpand:
    """Expands into a chain of ProbeAdd nodes adding 1..count to `start`."""

    CATEGORY = "probe"
    RETURN_TYPES = ("INT",)
    FUNCTION = "expand"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"start": ("INT", {"default": 0, "min": 0, "max": 1000}),
                             "count": ("INT", {"default": 3, "min": 1, "max": 10})}}

    def expand(self, start, count):
        graph = GraphBuilder()
        value = start
        for i in range(1, count + 1):
            value = graph.node("ProbeAdd", a=value, b=i).out(0)
        return {"result": (value,), "expand": graph.finalize()}


NODE_CLASS_MAPPINGS = {"ProbePicker": ProbePicker, "ProbeAdd": ProbeAdd, "ProbeShow": ProbeShow,
                       "ProbeProgress": ProbeProgress, "ProbeExpand": ProbeExpand}
NODE_DISPLAY_NAME_MAPPINGS = {"ProbePicker": "Probe Picker"}
WEB_DIRECTORY = "./web"
