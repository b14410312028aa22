"""`torch.set_num_threads` / `get_num_threads`: how many threads numpy's BLAS may use.

Matrix products go to the BLAS numpy was built with; numpy's wheels ship
OpenBLAS, which starts a thread per core and splits any product big enough
among them. On a machine that is busy with other work those threads wait for
one another, and a product of a (32, 4, 48) batch can take fifty times longer
than on one thread. `set_num_threads(1)`, what the benchmarks ask of PyTorch
too, keeps every product on the calling thread. OpenBLAS is reached through
its C entry points, found among the libraries this process has loaded; with
another BLAS the calls only remember the number.
"""

import ctypes
import glob
import os

import numpy as np

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_state = {"library": None, "searched": False, "threads": None}


def _candidates():
    """Paths of OpenBLAS libraries: those loaded (Linux), then those shipped with numpy."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "openblas" in line.lower()]
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*"):
        paths += glob.glob(os.path.join(root, pattern))
    return list(dict.fromkeys(paths))


def _openblas():
    """(set, get) C functions of the OpenBLAS under numpy, or None."""
    if not _state["searched"]:
        _state["searched"] = True
        for path in _candidates():
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _SETTERS:
                if hasattr(library, name):
                    getter = getattr(library, name.replace("set_num", "get_num"), None)
                    _state["library"] = (getattr(library, name), getter)
                    break
            if _state["library"]:
                break
    return _state["library"]


def set_num_threads(n):
    """Let matrix products use at most `n` threads (1: all on the calling thread)."""
    n = int(n)
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _state["threads"] = n
    found = _openblas()
    if found:
        found[0](n)


def get_num_threads():
    """The number of threads matrix products may use."""
    found = _openblas()
    if found and found[1] is not None:
        return int(found[1]())
    return _state["threads"] or os.cpu_count() or 1
