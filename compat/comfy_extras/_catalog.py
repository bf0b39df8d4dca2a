"""What each `comfy_extras.nodes_*` facade module holds: the built-in node classes that
ComfyUI ships in that extras file (our classes carry that file as RELATIVE_PYTHON_MODULE),
under their node names (ComfyUI's class names) and class names, plus the file's
NODE_CLASS_MAPPINGS. Packs subclass them or call their methods directly."""

from __future__ import annotations

from typing import Any


def export(module_name: str) -> dict[str, Any]:
    """The names `comfy_extras.<file>` exports for our built-in nodes of that file."""
    import nodes

    classes, titles = nodes.mappings_by_python_module().get(module_name, ({}, {}))
    names: dict[str, Any] = {}
    for node_id, cls in classes.items():
        names.setdefault(cls.__name__, cls)
        if node_id.isidentifier():
            names[node_id] = cls
    names["NODE_CLASS_MAPPINGS"] = dict(classes)
    names["NODE_DISPLAY_NAME_MAPPINGS"] = dict(titles)
    return names
