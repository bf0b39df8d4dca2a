"""Checkpoint loading: safetensors IO (never pickle), family detection from key names and
tensor shapes, key conversion, and the load_* entry points the loader nodes call."""
