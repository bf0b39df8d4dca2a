import probe_missing_dependency  # noqa: F401  (not installed: the loader names it)

NODE_CLASS_MAPPINGS = {}
