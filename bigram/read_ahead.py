"""Reading the next slice of a file from a second thread while this one is worked on.

The sequential readers of a build within a memory budget (a column a slice at a time, a
spilled file a frame at a time) spend their read calls copying the page cache into fresh
memory, and decoding what they read; both let go of the GIL. `read_ahead` makes item
i + 1 in a thread while the caller works on item i: at most two items are alive at once
(the one given, the one being made), never a queue of them, so the memory a reader holds
at most doubles and stays what its budget share allows for two slices.
"""

import threading


class _Stop(Exception):
    """Tells the reading thread that the caller has stopped asking."""


def read_ahead(items):
    """Yield the items of the iterable `items`, the next one made by a thread while the
    caller holds this one. An exception raised making an item is raised here, in order;
    closing the generator stops the thread after the item it is making."""
    iterator = iter(items)
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
                box.append(("item", next(iterator)))
            except StopIteration:
                box.append(("end", None))
            except BaseException as error:   # raised in the caller's thread
                box.append(("error", error))
            made.release()
            if box[-1][0] != "item":
                return

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
