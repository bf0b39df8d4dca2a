import sys
from pathlib import Path

import folder_paths

with (Path(folder_paths.base_path) / "order.log").open("a") as log:
    log.write(f"prestartup {__name__} {'torch' in sys.modules}\n")
