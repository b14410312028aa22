"""The memory budget of training (`--memory`, `--temp-dir`): parsing it, its default, and
whether a text is counted in memory or within the budget with runs spilled to disk."""

import os
import re

from bigram.errors import OptionError

# Units of --memory: powers of 1024, as lmplz's -S reads them.
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
MIN_BUDGET = 1 << 20
DEFAULT_SHARE = 0.5          # of physical memory, when --memory is not given
# The in-memory counter holds about this many bytes per byte of text (every window of
# every level at once); a text under budget / this stays on that path.
IN_MEMORY_BYTES_PER_BYTE = 16


def physical_memory():
    """Bytes of physical memory (0 when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def default_budget():
    """The budget without --memory: half of physical memory (4 GiB if unknown)."""
    total = physical_memory()
    return int(total * DEFAULT_SHARE) if total else 4 << 30


def parse_memory(text):
    """--memory's value in bytes: '1G', '500M', '64K', '123456', or '40%' of physical
    memory; one-line OptionError otherwise."""
    value = str(text).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|[BKMGT]?)(?:i?B)?", value, re.IGNORECASE)
    if not match:
        raise OptionError(f"--memory takes a size such as 1G, 500M or 40% (of physical "
                          f"memory), not {text!r}")
    number, unit = float(match.group(1)), match.group(2).upper()
    if unit == "%":
        if not 0 < number <= 100:
            raise OptionError(f"--memory as a share of physical memory must be above 0% and "
                              f"at most 100%, not {text!r}")
        total = physical_memory()
        if not total:
            raise OptionError("--memory in % needs the size of physical memory, which this "
                              "system does not report; give a size such as 1G")
        size = int(total * number / 100)
    else:
        size = int(number * _UNITS[unit])
    if size < MIN_BUDGET:
        raise OptionError(f"--memory {text} is below the smallest budget, 1M")
    return size


def check_temp_dir(folder):
    """Refuse a --temp-dir that is not a writable folder, before any data is read."""
    if folder is None:
        return
    if not os.path.isdir(folder):
        raise OptionError(f"--temp-dir {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OptionError(f"--temp-dir {folder} is not writable")


def fits_in_memory(text_bytes, budget):
    """Whether a text of `text_bytes` (0: unknown, as stdin) is counted in memory."""
    return 0 < text_bytes and text_bytes * IN_MEMORY_BYTES_PER_BYTE <= budget
