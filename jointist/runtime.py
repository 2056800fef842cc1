"""Process settings that inference needs to run at its measured speed on a CPU.

glibc's malloc serves large blocks with fresh ``mmap``s and returns them on ``free``; the pipeline
allocates activations of a few MB per window and instrument, so with the default settings every window
pays the page faults of new mappings again, and how often depends on what else the process allocated
(the note decoder's per-block arrays, for one). :func:`reuse_heap` keeps blocks up to 32 MiB in the
heap and the heap from being trimmed below 1 GiB of free memory, so the same pages are reused window
after window: the effect of ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` in the
environment, applied when a pipeline is built. ``JOINTIST_MALLOC=system`` in the environment leaves
glibc's settings alone; other C libraries are left alone too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["reuse_heap"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
"""Blocks up to this size come from the heap (glibc's own ceiling for its dynamic threshold)."""
TRIM_THRESHOLD = 2**30
"""Free memory at the top of the heap kept for reuse instead of returned to the system."""

_done: bool | None = None


def reuse_heap() -> bool:
    """Apply the malloc settings above once per process; True where they are in effect (glibc and no
    ``JOINTIST_MALLOC=system``)."""
    global _done
    if _done is None:
        _done = False
        if os.environ.get("JOINTIST_MALLOC", "").lower() != "system":
            name = ctypes.util.find_library("c")
            try:
                libc = ctypes.CDLL(name) if name else None
                mallopt = getattr(libc, "mallopt", None) if libc is not None and hasattr(libc, "gnu_get_libc_version") else None
            except OSError:
                mallopt = None
            if mallopt is not None:
                _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
