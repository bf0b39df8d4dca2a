raise RuntimeError("probe pack exploded on purpose")
