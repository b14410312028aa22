"""Writing files so that a crash, a full disk or Ctrl-C never leaves half of one."""

import os
import tempfile
from pathlib import Path

from .errors import BigramError


def check_writable(path):
    """Raise a one-line error if `path` cannot be written (before any long work starts)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BigramError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise BigramError(f"cannot write {path}: it is a directory")
    if not os.access(folder, os.W_OK):
        raise BigramError(f"cannot write {path}: the folder {folder} is not writable")


def _default_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, fill):
    """Call fill(binary stream) on a temporary file beside `path`, then rename it over `path`.

    Returns True if an existing file was replaced. On any failure, including
    KeyboardInterrupt, the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    check_writable(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise BigramError(f"cannot write {path}: {(error.strerror or str(error)).lower()}") \
            from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would,
        # or the mode of the file it replaces.
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else _default_mode())
        with os.fdopen(handle, "wb") as stream:
            fill(stream)
            stream.flush()
            os.fsync(stream.fileno())
        replaced = path.exists()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return replaced
