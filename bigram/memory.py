"""How freed memory goes back to the system (glibc's malloc; elsewhere these do nothing).

Large numpy temporaries come from malloc, which by default hands big freed blocks
back to the system and asks for fresh pages next time. Every fresh page costs a
fault on first touch, and on virtual machines a fault costs microseconds: a
streaming command that allocates and frees the same few megabytes per block
(scoring a file) spent more time faulting than computing. Training is the
opposite case: counting frees hundreds of megabytes that the estimate made next
should not sit on top of.
"""

import functools

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


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


@functools.cache
def _libc():
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
