"""Writing large files from a second thread, so that the writes overlap the work.

On the machines this was measured on, a write into the page cache costs 1.5-2.8 s of
system time per GB (the kernel takes fresh pages from the hypervisor), and a build within
a memory budget writes many times its text: on 160 MB of Zipf words, order 5, the write
calls were 16 of 63 seconds, all on the one thread that counts and sorts. A write call
lets go of the GIL, so one thread that only writes runs them on the second core while
the first goes on (lmplz's chains overlap their disk work with their sorting in the same
way).

`BehindFile` wraps an open binary file: `write` queues the bytes and returns; a single
writer thread, shared by every BehindFile of the process, writes them in the order given.
The queue holds at most `limit()` bytes (one buffer more than that waits), so the memory
this costs is bounded and small beside a build's budget. A failed write (a full disk) is
raised by the file's next call in the calling thread, as the OSError it was, so callers
handle it where they handled the synchronous one. `seek`, `tell`, `flush` and `close`
wait for the file's queued writes first, so a zip writer that seeks back to patch a
header sees what it wrote.
"""

import collections
import os
import threading

# The queue's bytes at most: a few of a build's write sizes (frames of a few MB), far
# below any budget it is used under (set_limit lowers it for small ones).
DEFAULT_LIMIT = 32 << 20
_limit = DEFAULT_LIMIT


def set_limit(limit):
    """Bound the bytes waiting to be written (a budgeted build gives it a share of its
    budget); returns the bound before, to be put back."""
    global _limit
    previous, _limit = _limit, max(1 << 16, int(limit))
    return previous


def limit():
    """The bytes waiting to be written, at most."""
    return _limit


class _Writer:
    """The one thread that writes every BehindFile's queued bytes, oldest first."""

    def __init__(self):
        self.lock = threading.Condition()
        self.queue = collections.deque()   # (BehindFile, bytes-like)
        self.pending = 0                   # bytes in the queue (the one being written too)
        self.thread = None

    def put(self, owner, data, size):
        with self.lock:
            # One buffer larger than the limit still goes, alone.
            while self.pending and self.pending + size > _limit:
                self.lock.wait()
            owner._raise_failure()
            self.queue.append((owner, data))
            owner._queued += 1
            self.pending += size
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="bigram-write-behind",
                                               daemon=True)
                self.thread.start()
            self.lock.notify_all()

    def wait_for(self, owner):
        """Until `owner`'s queued writes are done (or dropped)."""
        with self.lock:
            while owner._queued:
                self.lock.wait()

    def drop(self, owner):
        """Forget `owner`'s queued writes (the file is being abandoned), and wait for the
        one in flight."""
        with self.lock:
            kept = collections.deque()
            for item in self.queue:
                if item[0] is owner and item is not self.queue[0]:
                    owner._queued -= 1
                    self.pending -= memoryview(item[1]).nbytes
                else:
                    kept.append(item)
            self.queue = kept
            self.lock.notify_all()
            while owner._queued:
                self.lock.wait()

    def _run(self):
        while True:
            with self.lock:
                while not self.queue:
                    self.lock.wait()
                owner, data = self.queue[0]     # left in the queue while it is written
            if owner._failure is None:
                try:
                    owner._file.write(data)
                except (OSError, ValueError) as error:   # ValueError: a closed file
                    owner._failure = error
            with self.lock:
                self.queue.popleft()
                owner._queued -= 1
                self.pending -= memoryview(data).nbytes
                self.lock.notify_all()
            del owner, data


_WRITER = _Writer()


def _after_fork():
    # A child of fork() has no writer thread and maybe a lock held by a thread that is
    # not there: it starts afresh.
    global _WRITER
    _WRITER = _Writer()


os.register_at_fork(after_in_child=_after_fork)


class BehindFile:
    """An open binary file whose writes are done by the writer thread (see the module's
    docstring). The bytes given to `write` must not change afterwards: callers hand over
    fresh buffers (bytes, or arrays they no longer touch)."""

    def __init__(self, file):
        self._file = file
        self._queued = 0
        self._failure = None
        try:
            self._position = file.tell()
        except (AttributeError, OSError):   # a pipe, or a file-like object with no tell
            self._position = 0

    def write(self, data):
        size = memoryview(data).nbytes
        if size:
            _WRITER.put(self, data, size)
            self._position += size
        return size

    def _raise_failure(self):
        if self._failure is not None:
            failure = self._failure
            if isinstance(failure, OSError):
                raise OSError(failure.errno, failure.strerror, failure.filename)
            raise failure

    def _settle(self):
        """Wait for the queued writes; raise the first that failed."""
        _WRITER.wait_for(self)
        self._raise_failure()

    def tell(self):
        return self._position

    def seekable(self):
        return getattr(self._file, "seekable", lambda: False)()

    def seek(self, offset, whence=0):
        self._settle()
        self._position = self._file.seek(offset, whence)
        return self._position

    def truncate(self, size=None):
        self._settle()
        return self._file.truncate(size)

    def flush(self):
        self._settle()
        self._file.flush()

    def fileno(self):
        return self._file.fileno()

    def close(self):
        """Finish the queued writes and close the file (a write that failed is raised)."""
        try:
            self._settle()
        finally:
            if self._queued:
                _WRITER.drop(self)
            self._file.close()

    def abandon(self):
        """Drop what is still queued and close the file (its writer is giving up on it:
        an error, Ctrl-C)."""
        _WRITER.drop(self)
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.abandon()
        return False
