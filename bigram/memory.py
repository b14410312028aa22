"""How freed memory goes back to the system (glibc's malloc; elsewhere these do nothing).

Large numpy temporaries come from malloc, which by default hands big freed blocks
back to the system and asks for fresh pages next time. Every fresh page costs a
fault on first touch, and on virtual machines a fault costs microseconds: a
streaming command that allocates and frees the same few megabytes per block
(scoring a file) spent more time faulting than computing. Training is the
opposite case: counting frees hundreds of megabytes that the estimate made next
should not sit on top of. Converting a large ARPA file is the first case for a while
(`reused_heap`): its levels make dozens of arrays of tens of megabytes one after
another, each given its own fresh mapping by default (lmplz's 600 MB file: 240,000 page
faults, 75,000 with the heap kept, some 2 s of system time less in 20 s).
"""

import contextlib
import functools

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
# glibc's defaults, set again when `reused_heap` ends.
_DEFAULTS = ((_M_MMAP_MAX, 65536), (_M_MMAP_THRESHOLD, 128 * 1024),
             (_M_TRIM_THRESHOLD, 128 * 1024))


def return_freed_memory():
    """Hand the heap pages freed so far back to the system (after counting)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def keep_freed_memory():
    """Keep freed blocks for reuse instead of returning them: blocks up to 32 MiB come
    from the heap (not one mapping each), the heap grows 64 MiB at a time and is never
    trimmed. For commands that repeat the same allocations block after block."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TOP_PAD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)


@contextlib.contextmanager
def reused_heap():
    """Inside: no block gets a mapping of its own, and freed memory stays in the heap for
    reuse; at the end glibc's defaults are set again and the free memory handed back."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)   # a C int: the largest
    try:
        yield
    finally:
        for parameter, value in _DEFAULTS:
            libc.mallopt(parameter, value)
        libc.malloc_trim(0)


@functools.cache
def _libc():
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
