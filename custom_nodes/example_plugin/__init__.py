"""Example plugin: one node class and one browser extension, in ComfyUI's plugin layout."""

from .nodes import ExampleRepeatText

NODE_CLASS_MAPPINGS = {"ExampleRepeatText": ExampleRepeatText}
NODE_DISPLAY_NAME_MAPPINGS = {"ExampleRepeatText": "Repeat Text (example)"}
WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
