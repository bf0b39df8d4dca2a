"""Patch points shared by the model and sampling packages: the `model_options` dict that
plugins edit by hand (and its typed readers), wrappers, callbacks and injections.

Plain Python (no torch), below the torch-free line; `comfy_core.models` and
`comfy_core.sampling` both import it, it imports neither.
"""
