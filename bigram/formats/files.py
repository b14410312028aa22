"""Writing files so that a crash, a full disk or Ctrl-C never leaves half of one, and so
that `-o` never replaces a file the command did not write (a slip such as
`bigram train n.txt -o n.txt` must not destroy the training text).
"""

import json
import os
import stat
import zipfile
from pathlib import Path

from bigram.errors import BigramError, OptionError
from bigram.temporaries import WRITE_FAILURES, make_temporary
from bigram.write_behind import BehindFile

# The first bytes of a query file (query_file.py): recognised here to protect outputs.
QUERY_MAGIC = b"\x93BIGRAMQ"


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


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Other formats matplotlib writes, recognised when the file's extension names them.
PICTURE_MAGIC = {".svg": (b"<?xml", b"<svg"), ".svgz": (b"\x1f\x8b",), ".pdf": (b"%PDF-",),
                 ".ps": (b"%!PS",), ".eps": (b"%!PS",), ".jpg": (b"\xff\xd8\xff",),
                 ".jpeg": (b"\xff\xd8\xff",), ".tif": (b"II*\x00", b"MM\x00*"),
                 ".tiff": (b"II*\x00", b"MM\x00*")}
HEAD_BYTES = 4096
MAX_META_BYTES = 1 << 20   # a model's metadata is a few kilobytes


def is_model_file(path):
    """Whether `path` is a bigram model file: a zip whose `meta` member says so.

    Reads only the zip directory and the small metadata member.
    """
    from bigram.formats.saved import FORMAT

    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("meta.npy")
            if info.file_size > MAX_META_BYTES:
                return False
            with archive.open(info) as member:
                import numpy as np

                raw = np.lib.format.read_array(member, allow_pickle=False)
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _head(path):
    with open(path, "rb") as stream:
        return stream.read(HEAD_BYTES)


def is_arpa_file(path):
    """Whether `path` is an ARPA file: a line among its first is `\\data\\`."""
    from bigram.formats.arpa_reader import HEAD_BYTES, looks_like_arpa

    with open(path, "rb") as stream:
        return looks_like_arpa(stream.read(HEAD_BYTES))


def is_picture(path):
    """Whether `path` is a PNG, or a picture in the format its extension names."""
    head = _head(path)
    magic = PICTURE_MAGIC.get(Path(path).suffix.lower(), ())
    return head.startswith(PNG_MAGIC) or head.lstrip().startswith(magic)


def is_query_file(path):
    """Whether a file starts with the query file's magic bytes."""
    try:
        with open(path, "rb") as stream:
            return stream.read(len(QUERY_MAGIC)) == QUERY_MAGIC
    except OSError:
        return False


OUTPUT_KINDS = {"model": (is_model_file, "a bigram model file"),
                "query": (is_query_file, "a bigram query file"),
                "arpa": (is_arpa_file, "an ARPA file"),
                "picture": (is_picture, "a picture")}


def same_file(path, other):
    """Whether two paths (or a path and an open file descriptor) are one file.

    Compares resolved paths and device and inode, so `./n.txt`, a symbolic link or a
    hard link to the file all count as the file.
    """
    try:
        mine = os.stat(path)
        theirs = os.fstat(other) if isinstance(other, int) else os.stat(other)
    except OSError:
        return False
    if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
        return True
    return not isinstance(other, int) and Path(path).resolve() == Path(other).resolve()


STDOUT = "-"


def is_stdout(path):
    """Whether an output path is '-', standard output (as KenLM's programs read it)."""
    return str(path) == STDOUT


def write_text_output(path, fill):
    """fill(binary stream) on standard output for '-' (text written front to back, such
    as an ARPA file), else atomically on `path` (atomic_write)."""
    if is_stdout(path):
        import sys

        fill(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return False
    return atomic_write(path, fill)


def check_output(path, kind, inputs=(), force=False):
    """Raise a one-line error if writing `path` as a `kind` file could destroy something.

    `kind` is "model", "arpa" or "picture". A missing file is fine; an existing one must
    not be one of the command's `inputs` (paths, or file descriptors such as stdin's) and
    must be a file of the same kind (an empty file holds nothing to lose). `force` skips
    both checks, never the check that the folder can be written. '-' (standard output,
    where a writer allows it) is always fine.
    """
    if is_stdout(path):
        return
    check_writable(path)
    path = Path(path)
    if force or not path.exists():
        return
    way_out = "give another name, or pass --force to overwrite it anyway"
    for source in inputs:
        if same_file(path, source):
            raise BigramError(f"not overwriting {path}: it is an input of this command; "
                              f"{way_out}")
    recognise, what = OUTPUT_KINDS[kind]
    check_regular_file(path, what)   # never open a FIFO to look inside: it would block
    try:
        empty = path.stat().st_size == 0
        if empty or recognise(path):
            return
    except OSError as error:
        raise BigramError(f"cannot write {path}: {(error.strerror or str(error)).lower()}") \
            from None
    raise BigramError(f"not overwriting {path}: it is not {what}; {way_out}")


def _default_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_regular_file(path, what="a model file", error=BigramError):
    """Refuse at once a path that exists but is not a regular file (a FIFO nobody writes
    to would block the reader forever; a device never ends)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return   # missing or unreadable: the reader says so in its own words
    if stat.S_ISREG(mode):
        return
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    raise error(f"{path} is {kind}, not {what}")


def atomic_write(path, fill, behind=False):
    """Call fill(binary stream) on a temporary file beside `path`, then rename it over `path`.
    With `behind`, the stream's writes are done by the write-behind thread
    (bigram.write_behind: fill must not change what it has handed to write).

    Returns True if an existing file was replaced. On any failure, including
    KeyboardInterrupt and SIGTERM (bigram.cli.signals), the temporary file is removed and
    `path` is untouched; one that a killed process left is removed by the next write to
    the folder (`remove_stale_temporaries`).
    """
    path = Path(path)
    check_writable(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = make_temporary(folder, f".{path.name}")
    except OSError as error:
        raise BigramError(f"cannot write {path}: {(error.strerror or str(error)).lower()}") \
            from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would,
        # or the mode of the file it replaces.
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else _default_mode())
        with os.fdopen(handle, "wb") as raw, (BehindFile(raw) if behind else raw) as stream:
            fill(stream)
            stream.flush()
            os.fsync(stream.fileno())
        replaced = path.exists()
        os.replace(temporary, path)
    except OSError as failure:
        Path(temporary).unlink(missing_ok=True)
        if failure.errno not in WRITE_FAILURES:
            raise
        raise BigramError(f"cannot write {path}: {os.strerror(failure.errno).lower()} (while "
                          f"writing the temporary file {temporary}, now removed)") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return replaced


def looks_like_scores(path):
    """Whether a file starts as `score --file` output does (tab-separated or JSON Lines)."""
    with open(path, "rb") as stream:
        first = stream.readline(1 << 16).decode("utf-8", "replace")
    if first.startswith('{"item": '):
        return True
    fields = first.split("\t")
    try:
        [float(x) for x in fields[:5]]
    except ValueError:
        return False
    return len(fields) >= 6


def check_scores_output(path, inputs, force=False):
    """Refuse an --output that is one of the inputs, or an existing file of another kind
    (unless forced), before any scoring."""
    check_writable(path)
    for source in inputs:
        if same_file(path, source):
            raise OptionError(f"not overwriting {path}: it is an input of this command; give "
                              "another name")
    if force or not path.exists():
        return
    try:
        if path.stat().st_size == 0 or looks_like_scores(path):
            return
    except OSError as error:
        raise BigramError(f"cannot write {path}: {(error.strerror or str(error)).lower()}") \
            from None
    raise OptionError(f"not overwriting {path}: it does not hold scores; give another name, "
                      "or pass --force to overwrite it anyway")
