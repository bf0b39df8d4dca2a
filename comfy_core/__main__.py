"""`python -m comfy_core run WORKFLOW.json [server flags]`."""

import sys

from comfy_core.cli import main

sys.exit(main())
