"""Give freed heap memory back to the operating system between jobs.

glibc keeps memory a job freed (decoded images, tensors, PNG buffers) in its heaps for
reuse, so a long-running server's resident size creeps up to the high-water mark of every
allocation pattern it has seen. `malloc_trim(0)` returns the free pages; it costs well under
a millisecond per job. Elsewhere (macOS, Windows, musl) there is nothing to call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Callable

log = logging.getLogger(__name__)


def heap_trimmer() -> Callable[[], None]:
    """A function that releases the process's free heap pages, or does nothing where the C
    library has no `malloc_trim`."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        log.debug("malloc_trim not available; freed heap memory stays with the allocator")
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int

    def release() -> None:
        trim(0)

    return release
