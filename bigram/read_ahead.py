"""Reading ahead on a second core: the next item of a sequential reader made by a thread
while the caller works on this one.

Reading a file, decoding it and finding what it holds mostly lets go of the GIL (read
calls, numpy), so on two cores it overlaps the caller's own work. Two forms:

* `read_ahead(items)`: a generator; item i + 1 is made while the caller holds item i, and
  at most those two are alive (never a queue of them), so a reader's memory at most
  doubles. Used by the readers of a build within a memory budget (a column a slice at a
  time, a spilled file a frame at a time); closing the generator (or dropping it) stops
  the thread.
* `ReadAhead(items, prepare, ahead)`: each item passed through `prepare` on the thread,
  up to `ahead` items before they are asked for (reading a training text's blocks,
  finding a chunk's windows in the level below); a `with` block stops the thread on
  leaving.

On one core both make their items in the caller's thread, as they are asked for.
"""

import queue
import threading

from bigram.machine import cores


class _Stop(Exception):
    """Tells the reading thread that the caller has stopped asking."""


def read_ahead(items):
    """Yield the items of the iterable `items`, the next one made by a thread while the
    caller holds this one. An exception raised making an item is raised here, in order;
    closing the generator stops the thread after the item it is making."""
    if cores() < 2:
        return iter(items)
    return _read_ahead(iter(items))


def _read_ahead(iterator):
    asked = threading.Semaphore(0)     # one release per item the caller wants made
    made = threading.Semaphore(0)      # one release per item (or end, or error) made
    box = []                           # the item made: (kind, value)
    stop = []

    def run():
        while True:
            asked.acquire()
            if stop:
                return
            try:
                made_one = ("item", next(iterator))
            except StopIteration:
                made_one = ("end", None)
            except BaseException as error:   # raised in the caller's thread
                made_one = ("error", error)
            # From made.release() on, the box is the caller's (it may be emptied at
            # once): whether to go on is decided from what this thread made.
            box.append(made_one)
            made.release()
            if made_one[0] != "item":
                return
            del made_one

    thread = threading.Thread(target=run, name="bigram-read-ahead", daemon=True)
    thread.start()
    asked.release()
    try:
        while True:
            made.acquire()
            kind, value = box.pop()
            if kind == "end":
                return
            if kind == "error":
                raise value
            asked.release()          # the next one is made while the caller works
            yield value
            del value
    finally:
        stop.append(True)
        asked.release()


# Blocks read ahead of the one being collected: on two cores, reading a block (the file,
# its hash, decoding, lines, words) overlaps the vocabulary's lookups of the one before.
READ_AHEAD = 2


class ReadAhead:
    """The items of an iterator, each passed through `prepare` on a thread of its own up to
    `ahead` items before they are asked for (on one core: here, as they are asked for).
    Its errors are raised here in turn; leaving the `with` (done, an error, Ctrl-C) stops
    the thread and waits for it, so nothing reads after."""

    _DONE = object()

    def __init__(self, items, prepare, ahead=None, name="bigram-reading"):
        self.items, self.prepare = items, prepare
        ahead = READ_AHEAD if ahead is None else ahead
        self.thread = None
        if cores() > 1 and ahead > 0:
            self.slots = queue.Queue(ahead)
            self.stopped = False
            self.thread = threading.Thread(target=self._produce, name=name, daemon=True)
            self.thread.start()

    def _produce(self):
        try:
            for item in self.items:
                if self.stopped:
                    return
                self.slots.put((self.prepare(item), None))
            self.slots.put((self._DONE, None))
        except BaseException as error:  # noqa: BLE001 - raised again by the reader of items
            self.slots.put((None, error))

    def __iter__(self):
        if self.thread is None:
            yield from map(self.prepare, self.items)
            return
        while True:
            item, error = self.slots.get()
            if error is not None:
                raise error
            if item is self._DONE:
                return
            yield item

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.thread is not None:
            self.stopped = True
            while self.thread.is_alive():   # emptied, so that the thread is not left waiting
                try:
                    while True:
                        self.slots.get_nowait()
                except queue.Empty:
                    pass
                self.thread.join(0.01)
        return False
