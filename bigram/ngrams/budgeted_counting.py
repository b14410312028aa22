"""Counting a training text within a memory budget: the same NgramIndex as in memory,
built from token ids and sorted runs spilled to a temporary folder.

The in-memory builder (`index.index_text`) holds the whole padded text and sorts every
window of every level at once: about 14 bytes of memory per byte of text. Here:

1. The text is read once. Training items become compact ids (the vocabulary is being
   discovered) and are spilled, a chunk at a time, to the temporary folder; only the
   vocabulary, the token frequencies and the held-out splits (dev/test, counted in
   memory as before) stay.
2. The vocabulary is fixed (`--min-count`, `--max-vocab`, `<unk>`), exactly as in memory.
3. One pass over the spilled ids counts every level of each chunk in the chunk's own
   terms (`_count_chunk`): a chunk's ids are renamed and padded, and a level-k window
   is (the local id of its first k-1 tokens, its last token), local ids being ranks
   among the chunk's distinct windows of a level, hence in the trie's order. Repeats
   are combined as they are found (`BlockCombiner`: a direct round by parent, then
   hashing; only what is distinct is sorted), and each level's distinct windows, their
   suffixes and counts are spilled. On two cores two threads count chunks at once (each
   with its own combiners, each chunk half as large, so the chunks hold the memory one
   thread's did: numpy releases the GIL in the sorts, gathers and large ufuncs), and
   write each level's file in the chunks' order, which the passes below rely on.
4. Level k (2..N) is then one pass over those distinct windows: the chunk's distinct
   (k-1)-grams (spilled by the pass before as trie keys) are found in level k-1, which
   maps the chunk's local keys and suffixes to the trie's keys and rows, still sorted.
   They go to a `WindowSorter`, which combines across chunks, spills runs and merges
   them into the level: the same sorted keys, suffix links and counts as `index_text`
   makes, hence the same model, array for array. (On two cores the next chunk is read
   and found in level k-1 on a second thread while this one is sorted in.)

Each finished level is written to columns on disk (a DiskIndex), so the budget bounds
everything: the chunks of text, the sorter's buffers, the merge's frames and the finder of
level k-1 (its keys in memory when they fit in its share, else an external join).
"""

import threading

import numpy as np

from bigram.errors import InputError
from bigram.machine import cores
from bigram.memory import return_freed_memory
from bigram.ngrams.columns import RANGE_SAMPLE, BucketedLookup, range_bytes, sorted_rows
from bigram.ngrams.counting import SplitTokens, TokenCollector
from bigram.ngrams.disk_index import (
    DiskIndex,
    DiskLevel,
    compact_count_column,
    level_columns,
)
from bigram.ngrams.external_sort import BlockCombiner, WindowSorter
from bigram.ngrams.index import pad_items, pads_for
from bigram.ngrams.spill import FrameWriter, TempSpace, read_frames
from bigram.read_ahead import ReadAhead

# Bytes of working memory per padded position while a chunk is processed (stream,
# positions, rows, keys, masks and a sort's copies).
CHUNK_BYTES_PER_TOKEN = 48
# Shares of the budget: the sorter's buffer, a chunk's working set, the finder of the
# level below.
SORTER_SHARE, CHUNK_SHARE, FINDER_SHARE = 0.4, 0.25, 0.3
# Temporary disk per token at most, for the refusal before a build: counting (spilled
# ids, rows of one level, runs of one level while they are merged into longer ones), each
# level above the first on disk (key, suffix link, count, whether it begins an item: at
# most one window per token), and estimation's columns of two levels at once. Zipf text
# of 320 MB (order 5, almost every 5-gram new) peaked at 92 bytes per token.
DISK_PER_TOKEN, DISK_PER_WINDOW, DISK_ESTIMATION = 24, 17, 48
# Temporary disk per token at least, whatever the text: its ids, spilled in their narrowest
# width (two bytes for a vocabulary of words). Text whose n-grams repeat needs little more
# (100 MB of repeated real sentences: 2 bytes per byte of text, where the upper estimate
# says 35), so only this is refused before a build; the rest is the full-disk error's.
LEAST_DISK_PER_TOKEN = {"char": 1, "word": 2}


# Tokens of the chunks counted at once (split between the counting threads): larger
# chunks gain no speed (numpy's per-call cost is long paid off), only memory. Counting
# is where a build on repeated real text peaks, yet smaller chunks combine fewer repeats:
# 1.5 million tokens took 4 GB of real text 184 s instead of 159 s (10.6 GB of temporary
# disk instead of 8.1 GB) for 0.36 GB instead of 0.40 GB.
MAX_CHUNK_TOKENS = 1 << 21
# Chunks are counted on this many threads at most: each chunk's numpy work releases the
# GIL in its sorts, gathers and large ufuncs, so two threads use two cores.
MAX_COUNTING_THREADS = 2
# Below this many tokens per chunk, threads share too little numpy work per Python step to
# gain from a second core: small budgets count on one thread.
MIN_THREADED_CHUNK = 1 << 16


# While the text is read, the heap is handed back to the system every this many chunks
# spilled. Reading keeps freed blocks for reuse (memory.keep_freed_memory), yet the
# blocks' arrays of ever new sizes, between the vocabulary's growing tables, leave holes
# that the heap grows past: on 4 GB of real text its resident size crept from 0.38 to
# 0.46 GB while what was live stayed near 0.1 GB. A trim every few chunks (some 40 MB of
# text) held it near 0.2 GB, for a few page faults.
TRIM_EVERY_CHUNKS = 8


def _chunks_share(budget):
    """Tokens of all the chunks counted at once under a budget of `budget` bytes."""
    return min(MAX_CHUNK_TOKENS, int(budget * CHUNK_SHARE) // CHUNK_BYTES_PER_TOKEN)


def counting_threads(budget):
    """Threads counting chunks at once under a budget of `budget` bytes; each chunk is its
    share of what the budget allows at once, so more threads mean smaller chunks: one
    thread when the machine has one core or the chunks would be too small to gain."""
    threads = min(MAX_COUNTING_THREADS, cores())
    while threads > 1 and _chunks_share(budget) // threads < MIN_THREADED_CHUNK:
        threads -= 1
    return threads


def chunk_tokens(budget):
    """Tokens of a chunk under a budget of `budget` bytes (counting_threads(budget) chunks
    are counted at once): real text of 100 MB counts in chunks of one million tokens on
    two threads within the memory that one thread took with chunks of two million."""
    return max(1 << 12, _chunks_share(budget) // counting_threads(budget))


def reader_block_bytes(budget):
    """Bytes read at once: a block's decoded text and items take ~50 bytes per byte."""
    return int(min(1 << 20, max(1 << 14, budget // 64)))


def disk_estimate(text_bytes, unit, order):
    """Temporary disk a build of order `order` over `text_bytes` of text may need at most
    (bytes): every window new."""
    tokens = text_bytes if unit == "char" else text_bytes // 4
    return int(tokens * (DISK_PER_TOKEN + DISK_PER_WINDOW * (order - 1) + DISK_ESTIMATION))


def disk_least(text_bytes, unit):
    """Temporary disk a build over `text_bytes` of text needs at least (bytes): its spilled
    ids, with words taken as eight bytes each (English words and a space average about
    six)."""
    tokens = text_bytes if unit == "char" else text_bytes // 8
    return int(tokens * LEAST_DISK_PER_TOKEN.get(unit, 2))


class SpillingCollector(TokenCollector):
    """A TokenCollector that writes the training split's ids to disk a chunk at a time
    (and counts their frequencies) instead of keeping them; other splits stay in memory."""

    def __init__(self, unit, space, chunk, skip_symbols=False):
        super().__init__(unit, byte_pairs=False, skip_symbols=skip_symbols)
        self.writer = FrameWriter(space, "tokens")
        self.chunk = chunk
        self.frequency = np.zeros(1, np.int64)
        self.train_tokens = 0
        self.flushes = 0

    def add_items(self, chars, offsets, split, source="the training text", utf8=False,
                  words=None):
        """As TokenCollector.add_items; training items are spilled when a chunk is full."""
        super().add_items(chars, offsets, split, source, utf8, words)
        if split == "train":
            pending = sum(len(ids) for ids, _ in self.splits["train"].parts)
            if pending >= self.chunk:
                self.flush()

    def flush(self):
        """Spill the training ids gathered so far."""
        part = self.splits.get("train")
        if part is None or not part.parts:
            return
        ids = np.concatenate([i for i, _ in part.parts])
        lengths = np.concatenate([n for _, n in part.parts])
        part.parts = []
        if len(self.frequency) < len(self.index):
            self.frequency = np.pad(self.frequency, (0, len(self.index) - len(self.frequency)))
        self.frequency += np.bincount(ids, minlength=len(self.frequency))
        self.train_tokens += len(ids)
        self.writer.write(ids, lengths)
        del ids, lengths
        self.flushes += 1
        if self.flushes % TRIM_EVERY_CHUNKS == 0:
            return_freed_memory()

    def train_frequencies(self):
        """How often each compact id occurs in the training split."""
        self.flush()
        return np.pad(self.frequency, (0, len(self.index) - len(self.frequency)))

    def close(self):
        """Finish the spilled file; its path. The words' lookup tables go: the text is
        read, and counting needs the memory."""
        self.flush()
        self.index.release_tables()
        self.splits.setdefault("train", SplitTokens())
        return self.writer.close()


def count_spilled(space, path, mapping, size, order, padding, budget, progress=None,
                  frames=None):
    """The DiskIndex of the training ids spilled at `path` (compact ids renamed by
    `mapping`), built level by level within `budget` bytes, each level written to columns
    of `space` as it is merged; `frames` (how many chunks the file holds) is the total
    `progress` hears."""
    pads = pads_for(padding, order)
    mapping = np.asarray(mapping, dtype=np.int32)
    levels = [None]

    first, locals_paths = _count_pass(space, path, mapping, size, order, pads,
                                      counting_threads(budget), progress, frames)
    # Between stages (not between chunks: the next chunk reuses what this one freed) the
    # freed memory goes back, so that no stage sits on what the one before kept.
    return_freed_memory()
    levels.append(level_columns(space, "level1", np.arange(size, dtype=np.int64),
                                np.zeros(size, np.int32), first))
    windows_path = None     # each chunk's distinct windows at level k-1, from the pass before
    for k in range(2, order + 1):
        if progress:
            progress(f"merging {k}-grams", 0, frames)
        sorter = WindowSorter(space, budget * SORTER_SHARE, name=f"level{k}")
        writer = FrameWriter(space, f"windows{k}") if k < order else None
        finder = _finder(space, levels, k, size, budget, windows_path) if k > 2 else None
        previous = read_frames(windows_path) if windows_path is not None else None

        def located(frame, finder=finder, previous=previous):
            """A chunk's distinct level-k windows in the trie's terms: (keys, suffix rows,
            counts)."""
            local, suffix, count = frame
            keys = local   # level 2: the local keys are the trie's keys
            if finder is not None:
                # Each of the chunk's distinct (k-1)-grams' row in level k-1; by induction
                # on k the chunk's local ids are in the trie's order (both sort windows
                # by their tokens, oldest first), so the keys stay sorted.
                rows = _rows(finder, next(previous)[0])
                parent = local // size
                keys = rows[parent]
                keys *= size
                keys += local - parent * size
                suffix = rows[suffix]
                del rows, parent, local
            return keys, suffix.astype(np.int32), count

        # On two cores the next chunk is read and found in level k-1 while this one is
        # sorted in: one chunk ahead (the chunks' share of the budget is free by now).
        with ReadAhead(read_frames(locals_paths[k]), located, ahead=1,
                       name="bigram-counting") as chunks:
            for done, (keys, suffix, count) in enumerate(chunks):
                sorter.add_combined(keys, suffix, count)
                if writer is not None:
                    writer.write(keys, sorted_first=True)
                del keys, suffix, count
                if progress:
                    progress(f"merging {k}-grams", done + 1, frames)
        space.removed(locals_paths.pop(k))
        if hasattr(finder, "close"):
            finder.close()
        del finder
        keys, suffix, count = sorter.finish_columns()
        levels.append(DiskLevel(keys, suffix, compact_count_column(space, count)))
        return_freed_memory()
        if windows_path is not None:
            space.removed(windows_path)
        windows_path = writer.close() if writer is not None else None
    return DiskIndex(order, size, levels, padding, space)


def _count_pass(space, path, mapping, size, order, pads, threads=1, progress=None,
                frames=None):
    """count_spilled's first pass: every chunk of the ids spilled at `path` counted at
    levels 2..order in its own terms (_count_chunk) on `threads` threads at once, each
    with its own combiners; (the tokens' counts, {k: the file of level k's distinct
    windows, a frame per chunk in the chunks' order}). The passes of the levels pair
    those frames with each other by chunk, so a chunk counted early waits for its turn
    to write a level."""
    writers = {k: FrameWriter(space, f"local{k}") for k in range(2, order + 1)}
    source = read_frames(path)
    counters = [_ChunkCounter(mapping, size, order, pads) for _ in range(max(threads, 1))]
    if len(counters) == 1:
        def write(k, *arrays):
            writers[k].write(*arrays, sorted_first=True)

        for done, frame in enumerate(source):
            counters[0].count(frame, write)
            if progress:
                progress("counting n-grams", done + 1, frames)
    else:
        _count_on_threads(source, counters, _InOrder(writers, progress, frames))
    first = counters[0].first
    for counter in counters[1:]:
        first += counter.first
    return first, {k: writer.close() for k, writer in writers.items()}


class _ChunkCounter:
    """Counts chunks one after another with combiners of its own (they keep their tables
    and what they learnt of the chunk before) and its own tally of the tokens."""

    def __init__(self, mapping, size, order, pads):
        self.mapping, self.size, self.order, self.pads = mapping, size, order, pads
        self.first = np.zeros(size, np.int64)
        self.combiners = [BlockCombiner()]
        self.combiners += [BlockCombiner(shared_with=self.combiners[0])
                           for _ in range(2, order)]

    def count(self, frame, write):
        """Count one spilled frame (ids, item lengths; taken out of the list as they are
        used); `write(k, keys, suffix, count)` hears each level's distinct windows."""
        self.first += _count_chunk(frame, self.mapping, self.order, self.size, self.pads,
                                   self.combiners, write)


class _Stopped(Exception):
    """Another counting thread failed: this one ends without writing."""


class _InOrder:
    """The level files written by threads that count chunks at once, each file's frames
    in the chunks' order: a chunk's level k waits until the chunk before wrote its own.
    Writes (and the temporary space's accounting, and progress) happen one at a time."""

    def __init__(self, writers, progress, frames):
        self.writers, self.progress, self.frames = writers, progress, frames
        self.written = dict.fromkeys(writers, 0)     # chunks written to each level
        self.last = max(writers)
        self.turn = threading.Condition()
        self.stopped = False

    def flush(self, chunk, pending, wait):
        """Write chunk `chunk`'s pending levels [(k, arrays)] (ascending k) whose turn has
        come; with `wait`, all of them, waiting for their turns."""
        with self.turn:
            while pending:
                k, arrays = pending[0]
                while self.written[k] != chunk:
                    if self.stopped:
                        raise _Stopped
                    if not wait:
                        return
                    self.turn.wait()
                if self.stopped:
                    raise _Stopped
                self.writers[k].write(*arrays, sorted_first=True)
                del pending[0], arrays
                self.written[k] += 1
                self.turn.notify_all()
                if k == self.last and self.progress:
                    self.progress("counting n-grams", self.written[k], self.frames)

    def stop(self):
        """Make every thread waiting for its turn, or about to write, end (_Stopped)."""
        with self.turn:
            self.stopped = True
            self.turn.notify_all()


def _count_on_threads(source, counters, in_order):
    """Chunks of `source` (spilled frames) counted by one thread per counter, this thread
    being the first: a thread takes the next frame, counts it and writes it in turn.
    The first error of any thread (a full disk, Ctrl-C here, bad input) is raised here
    once every thread has ended, so nothing writes to the temporary folder after."""
    taking = threading.Lock()         # the spilled file is read by one thread at a time
    taken = [0]
    errors = []

    def work(counter):
        while not in_order.stopped:
            with taking:
                frame = next(source, None)
                chunk = taken[0]
                taken[0] += 1
            if frame is None:
                return
            pending = []

            def write(k, *arrays, chunk=chunk, pending=pending):
                pending.append((k, arrays))
                in_order.flush(chunk, pending, wait=False)

            counter.count(frame, write)
            del frame
            in_order.flush(chunk, pending, wait=True)

    def helper(counter):
        try:
            work(counter)
        except _Stopped:
            pass
        except BaseException as error:   # noqa: BLE001 - raised again by the first thread
            errors.append(error)
            in_order.stop()

    helpers = [threading.Thread(target=helper, args=(counter,), name="bigram-counting")
               for counter in counters[1:]]
    for thread in helpers:
        thread.start()
    try:
        work(counters[0])
    except _Stopped:
        pass
    except BaseException:
        in_order.stop()
        for thread in helpers:
            thread.join()
        raise
    for thread in helpers:
        thread.join()
    if errors:
        raise errors[0]


def _count_chunk(frame, mapping, order, size, pads, combiners, write):
    """Count the windows of every level 2..order of one spilled chunk (`frame`: its ids
    and item lengths, popped from the list so that no array outlives its use; `mapping`
    renames the ids) in the chunk's own terms and spill them; the tokens' counts are
    returned. A level-k window is (its oldest k-1 tokens' local id at level k-1, its
    last token), local ids being ranks among the chunk's distinct windows of a level
    (so, as the trie's rows, in the order of their tokens). Each level's distinct local
    keys (sorted), their suffixes' local ids at level k-1 and their counts go to
    `write(k, ...)`; what follows then works on distinct windows, not on positions.

    A chunk's positions are the largest arrays of a build on repeated real text (two
    chunks are counted at once), so windows are picked by a mask over positions 1.. (a
    window ends at each) rather than an int64 index, the padded stream is the tokens,
    positions take a byte, and no int64 key is made for what the combiner's direct round
    places: with the words' tables let go after reading and the trims while reading,
    real-100M's build peaked at 0.30 GB instead of 0.41 GB, in the same time."""
    lengths = frame.pop()
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    del lengths
    text = pad_items(mapping[frame.pop()], offsets, pads)
    del offsets
    known = text.stream            # each position's token; -1: none (a boundary is 0)
    np.maximum(known, -1, out=known)
    first = np.bincount(known[(known >= 0) & (text.position >= pads)], minlength=size)
    # Each position's place in its item, up to the order (one byte, not the text's four).
    cap = max(order, pads)
    np.minimum(text.position, cap, out=text.position)
    position = text.position.astype(np.uint8 if cap < 256 else np.int32)
    del text
    rows = known            # each position's local id at level k-1 (level 1: the token)
    ends = np.empty(len(known) - 1, dtype=bool)   # windows ending at positions 1..
    for k in range(2, order + 1):
        # A level-k window ends at each position holding a known token whose k-1 tokens
        # before (within its item) are a window: its key is (their row, the token).
        np.greater_equal(position[1:], k - 1, out=ends)
        ends &= rows[:-1] >= 0
        ends &= known[1:] >= 0
        parent, token = rows[:-1][ends], known[1:][ends]
        distinct, suffix, count, inverse = combiners[k - 2].combine(
            None, rows[1:][ends], position[1:][ends] >= pads, pairs=(parent, token, size))
        del parent, token
        write(k, distinct, suffix, count)
        del distinct, suffix, count
        if k < order:
            rows = np.full(len(known), -1, dtype=np.int32)
            rows[1:][ends] = inverse
        del inverse
    return first


def _finder(space, levels, k, size, budget, windows_path):
    """What finds the rows at level k-1 of each chunk's distinct windows in the pass of
    level k: level k-1's keys in memory (SortedFinder) when they fit in
    the finder's share of the budget; else an external join (columns.BucketedLookup),
    asked every chunk's windows beforehand from the pass before's file."""
    keys = levels[k - 1].keys
    memory, span = budget * FINDER_SHARE, len(levels[k - 2]) * size
    if keys.nbytes <= range_bytes(memory):   # a binary search holds only the keys
        return SortedFinder(keys.load())
    lookup = BucketedLookup(space, keys, memory, span)
    for frame in read_frames(windows_path):
        lookup.ask(frame[0])
    lookup.resolve()
    return lookup


class SortedFinder:
    """Rows of a chunk's distinct windows in a level whose keys are in memory: the
    queries come sorted (a chunk's distinct keys), so a binary search walks each query's
    path from the one before's and stays in cache (through every RANGE_SAMPLE-th key
    first: columns.sorted_rows); measured 2-3x faster than a LevelFinder's hash table on
    0.3-2 M sorted queries into levels of 0.4-20 M keys, and it builds nothing."""

    def __init__(self, keys):
        self.keys = keys
        self.samples = keys[::RANGE_SAMPLE].copy()

    def find(self, queries):
        """int64 rows of `queries` (sorted int64 keys); -1 where absent."""
        return sorted_rows(self.keys, queries, samples=self.samples)


def _rows(finder, distinct):
    """The rows (int64) at level k of a chunk's distinct level-k keys, found by a
    LevelFinder of level k."""
    found = finder.find(distinct)
    if len(found) and found.min() < 0:   # every window was counted into the level
        raise InputError("the spilled text changed while it was counted")
    return found.astype(np.int64, copy=False)


def open_space(temp_dir, needed, least=None):
    """The temporary folder of a build that needs about `needed` bytes of disk, refusing
    at once when its disk is too small. With `least`, `needed` is an upper estimate and
    only less free disk than `least` is refused: a build that finds the disk full later
    ends with the same one-line error and leaves nothing behind."""
    from bigram.ngrams.spill import BudgetError, free_bytes, human_bytes

    space = TempSpace(temp_dir, needed, upper=least is not None)
    free = free_bytes(space.folder)
    refused_below = needed if least is None else least
    if refused_below and free < refused_below:
        space.close()
        if least is None:
            need = f"needs about {human_bytes(needed)}"
        else:
            need = (f"needs at least {human_bytes(least)} (up to {human_bytes(needed)} if few "
                    "of its n-grams repeat)")
        raise BudgetError(f"the disk of the temporary folder {space.parent} has "
                          f"{human_bytes(free)} free; counting this text within the memory "
                          f"budget {need}; pass --temp-dir on a larger disk")
    return space
