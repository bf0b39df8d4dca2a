"""A V3 plugin: its nodes come from an async comfy_entrypoint."""

from comfy_api.latest import ComfyExtension, io

from .nodes import NODES


class PackExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> PackExtension:
    return PackExtension()
