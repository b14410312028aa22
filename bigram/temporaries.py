"""Temporary files that never outlive their use.

Every temporary bigram makes (the file an atomic write fills before renaming it over its
target, the copy of standard input) carries the writing process's id in its name and is
locked while open. Whoever made one removes it on any failure or interruption; what a
killed process could not remove (SIGKILL gives no chance to) is removed by the next
process that makes a temporary in the same folder, once that process id is gone.
"""

import errno
import fcntl
import os
import re
import tempfile

# What a full disk, a quota or a file-size limit (ulimit -f) make a write fail with.
WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


# Temporary files carry the writing process's id, so that one a killed process left
# behind (SIGKILL gives no chance to clean up) can be told from one being written now:
# `.model.npz.bigram-4242-k2j9x0aq.tmp` beside a model, `bigram-stdin.bigram-...` in $TMPDIR.
_TEMPORARY = re.compile(r"\.bigram-(?P<pid>[0-9]+)-[a-z0-9_]{8}\.tmp$")


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process: alive
        return True
    except (OverflowError, OSError):
        return False
    return True


def _unlocked(path):
    """True if no process holds the file's lock (a live writer keeps it locked)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(handle)


def remove_stale_temporaries(folder):
    """Remove the temporary files of bigram's own naming in `folder` whose process is gone
    (killed before it could remove them). Returns the names removed.

    A file is removed only if its name matches the pattern bigram gives its temporaries,
    it is a regular file, the process id in its name is not running, and no process holds
    its lock; anything else in the folder is left alone.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.search(entry.name)
        if match is None or int(match["pid"]) == os.getpid():
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if _process_alive(int(match["pid"])) or not _unlocked(entry.path):
                continue
            os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue
    return removed


def make_temporary(folder, prefix):
    """(descriptor, path) of a new private file `{prefix}.bigram-{pid}-XXXXXXXX.tmp` in
    `folder`, locked while this process has it open; stale ones of earlier, killed
    processes are removed first."""
    remove_stale_temporaries(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f"{prefix}.bigram-{os.getpid()}-",
                                         suffix=".tmp")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:   # a file system without locks: the process id alone marks it
        pass
    return handle, temporary
