"""Freed memory kept for reuse while a large file is converted (glibc only).

A converted level makes dozens of arrays of tens of megabytes, one after another. glibc
gives each block that large its own fresh mapping and unmaps it when freed, so the next
array's pages are faulted in and zeroed again by the kernel: on lmplz's 600 MB ARPA file
that was some 2 s of system time in 20 s (240,000 page faults; 75,000 with this). Inside
`reused_heap` large blocks come from the heap and stay there when freed, to be reused;
at its end the defaults are set again and the heap's free memory is handed back.
"""

import contextlib
import ctypes

# mallopt's parameters (malloc.h) and glibc's defaults for them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_DEFAULTS = ((_M_MMAP_MAX, 65536), (_M_MMAP_THRESHOLD, 128 * 1024),
             (_M_TRIM_THRESHOLD, 128 * 1024))


def _libc():
    """glibc's mallopt and malloc_trim, or None (another C library: nothing to tune)."""
    try:
        libc = ctypes.CDLL(None)
        return libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def reused_heap():
    """Inside: no block is given its own mapping, and freed memory stays in the heap."""
    calls = _libc()
    if calls is None:
        yield
        return
    mallopt, malloc_trim = calls
    mallopt(_M_MMAP_MAX, 0)
    mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)   # a C int: the largest, 2 GiB
    try:
        yield
    finally:
        for parameter, value in _DEFAULTS:
            mallopt(parameter, value)
        malloc_trim(0)
