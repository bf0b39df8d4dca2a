try:
    from probe_swallowed_lib import SwallowedNode
except ImportError:
    pass  # the pack hides the cause; its next line fails with NameError

NODE_CLASS_MAPPINGS = {"SwallowedNode": SwallowedNode}
