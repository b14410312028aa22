"""A cluster's counts merged on this machine's disk, within the memory budget: the same
DiskIndex the budgeted path of one process builds (bigram.ngrams.budgeted_counting), and so
the same streaming estimate, when the combined counts would not fit in the budget.

The blocks' counts stay on the cluster (each worker holds its blocks') and come here a
slice of a level at a time; the client never holds a whole level, only:

* the vocabulary (every token and where it first appeared, as one process keeps it);
* for each block, a map of its rows at level k-1 to the merged level's rows, in a column
  on disk (gathered within a share of the budget);
* the frames of the merge, at most `fan_in` runs open at once.

Why it needs no sort: a block's tokens are sorted, and so is the union of every block's
(the vocabulary, `<unk>` inserted at id 1 included), so the map of a block's token ids to
the vocabulary's ascends. A block's level-k key `parent * V_block + token` becomes
`row_map(parent) * V + token_map(token)`; with both maps ascending, the block's sorted keys
stay sorted, and the row map of level k (where each of its keys landed in the merged
level) ascends too. So each block's level k, renamed as it arrives, is a sorted run
(`ngrams.external_sort.merge_runs` merges the runs and adds the counts of equal keys), and
its row map is a walk of the block's keys along the merged keys.

The held-out splits (dev, test) are combined on the cluster (without the training split)
and kept in memory here, as the budgeted path of one process keeps them.
"""

import collections
import pickle
import weakref
from dataclasses import dataclass

import numpy as np

from bigram.errors import InputError
from bigram.ngrams.budgeted_counting import open_space
from bigram.ngrams.columns import (
    ColumnGather,
    ColumnWriter,
    remove,
    rows_for,
    write_column,
)
from bigram.ngrams.disk_index import (
    DiskIndex,
    DiskLevel,
    compact_count_column,
    level_columns,
)
from bigram.ngrams.external_sort import RECORD_BYTES, WORK_FACTOR, merge_runs
from bigram.ngrams.index import merge_indexes
from bigram.ngrams.spill import (
    FrameWriter,
    binary_bytes,
    free_bytes,
    human_bytes,
    read_frames,
)
from bigram.text.splits import SPLITS
from bigram.text.vocabulary import UNK, Vocabulary

# Shares of the budget: the merge's open frames; each gather of a row map (parents,
# suffix links, tokens).
MERGE_SHARE, GATHER_SHARE = 0.3, 0.15
# Slices of a block's level asked of its worker ahead of the one being renamed here.
SLICES_AHEAD = 2
# Temporary disk per byte of the blocks' counts: each block's renamed runs, the merged
# levels, the row maps, and estimation's columns (as budgeted_counting's estimate).
DISK_PER_COUNTED_BYTE = 4


@dataclass
class MergedCounts:
    """What load_on_cluster needs of the merge: vocabulary, tables, and the input's facts."""

    vocabulary: Vocabulary
    tables: dict          # (order, padding) -> {split: DiskIndex (train) or NgramIndex}
    first_seen: np.ndarray
    items: dict
    bytes_read: int
    blocks: int


def combined_bytes(client, futures):
    """Bytes of every block's counts (an upper bound of the combined counts')."""
    return sum(client.gather([client.submit(_counted_bytes, f, pure=False) for f in futures]))


def merge_on_disk(client, futures, held_out, unit, force_unk, resources, note=None,
                  progress=None):
    """MergedCounts of the blocks `futures` (BlockCounts on the cluster), the training split
    of every counting merged into a DiskIndex within `resources.memory` bytes, under
    `resources.temp_dir`; `held_out` (a future of one BlockCounts, or None) holds the
    held-out splits' counts, combined on the cluster. `note(text)` hears the plan,
    `progress(stage, done, total)` the levels."""
    budget = int(resources.memory)
    needed = DISK_PER_COUNTED_BYTE * combined_bytes(client, futures)
    headers = [client.submit(_header, f, pure=False) for f in futures]
    tokens, first_seen, items, bytes_read, shapes = _union(headers)
    if UNK in tokens:
        raise InputError(f"the text holds the token {UNK}, which bigram keeps for tokens "
                         "outside the vocabulary")
    vocabulary = Vocabulary(tokens, unit, unk=force_unk)
    position = {token: i + vocabulary.first for i, token in enumerate(tokens)}
    del tokens
    tables, spaces = {}, []
    try:
        for key in shapes[0]:
            space = open_space(resources.temp_dir, needed)
            spaces.append(space)
            space.slice_rows = rows_for(budget)
            if note is not None and len(spaces) == 1:
                note(f"memory budget {binary_bytes(budget)}, temporary folder {space.parent} "
                     f"({human_bytes(free_bytes(space.folder))} free); merging the cluster's "
                     "counts on disk")
            maps = [_token_map(space, client, future, position) for future in futures]
            tables[key] = {}
            if any("train" in shape[key] for shape in shapes):
                merger = _Merger(client, futures, shapes, key, space, budget, progress)
                tables[key]["train"] = merger.disk_index(maps, len(vocabulary))
            remove(space, *maps)
            if "train" in tables[key]:   # the folder goes when the training counts do
                weakref.finalize(tables[key]["train"], space.close)
            else:
                space.close()
    except BaseException:
        for space in spaces:
            space.close()
        raise
    if held_out is not None:
        for key, splits in _held_out(held_out.result(), position, len(vocabulary)).items():
            tables[key].update(splits)
            tables[key] = {s: tables[key][s] for s in SPLITS if s in tables[key]}
    return MergedCounts(vocabulary, tables, first_seen, items, bytes_read, len(futures))


# ---------------------------------------------------------------------- on the workers


def _counted_bytes(block):
    return block.nbytes()


def _header(block):
    """A block's tokens, first appearances, items, bytes and level lengths per counting and
    split (runs where the block is)."""
    shape = {key: {split: [len(level) for level in index.levels[1:]]
                   for split, index in splits.items()}
             for key, splits in block.counts.items()}
    return block.tokens, block.first_seen, block.items, block.bytes_read, shape


def _level_slice(block, key, split, k, start, stop):
    """Rows start..stop-1 of level k of a block's index: (keys, suffix, count)."""
    level = block.counts[key][split].level(k)
    return level.keys[start:stop], level.suffix[start:stop], level.count[start:stop]


def _tokens(block):
    # Pickled as one object: Dask serializes a returned list item by item (18 s for
    # 200,000 words, against 0.5 s inside a tuple).
    return pickle.dumps(block.tokens, protocol=pickle.HIGHEST_PROTOCOL)


# ---------------------------------------------------------------------- here


def _union(headers):
    """The sorted union of the blocks' tokens, each token's first appearance (the smallest
    of the blocks'), the items and bytes read, and each block's level lengths."""
    seen, items, bytes_read, shapes = {}, {}, 0, []
    for future in headers:
        tokens, first, block_items, block_bytes, shape = future.result()
        future.release()
        for token, where in zip(tokens, first.tolist()):
            if where < seen.get(token, where + 1):
                seen[token] = where
        for split, n in block_items.items():
            items[split] = items.get(split, 0) + n
        bytes_read += block_bytes
        shapes.append(shape)
    tokens = sorted(seen)
    first_seen = np.fromiter((seen[t] for t in tokens), dtype=np.int64, count=len(tokens))
    return tokens, first_seen, items, bytes_read, shapes


def _token_map(space, client, future, position):
    """A column: each of a block's token ids (0 the boundary) -> its vocabulary id."""
    tokens = pickle.loads(client.submit(_tokens, future, pure=False).result())
    mapping = np.zeros(len(tokens) + 1, dtype=np.int64)
    mapping[1:] = np.fromiter((position[t] for t in tokens), dtype=np.int64, count=len(tokens))
    return write_column(space, "token-map", mapping)


def _held_out(combined, position, size):
    """The held-out splits' indexes (BlockCounts `combined`: their tokens alone) renamed
    into the vocabulary: (order, padding) -> {split: NgramIndex}."""
    mapping = np.zeros(len(combined.tokens) + 1, dtype=np.int64)
    mapping[1:] = np.fromiter((position[t] for t in combined.tokens), dtype=np.int64,
                              count=len(combined.tokens))
    return {key: {split: merge_indexes([index], [mapping], size)
                  for split, index in splits.items() if split != "train"}
            for key, splits in combined.counts.items()}


class _Merger:
    """Merges the blocks' training counts of one counting, level by level, into a
    DiskIndex."""

    def __init__(self, client, futures, shapes, key, space, budget, progress):
        self.client, self.futures, self.key = client, futures, key
        self.order, self.padding = key
        self.lengths = [shape[key].get("train") for shape in shapes]
        self.space, self.budget, self.progress = space, budget, progress
        self.rows = rows_for(budget)
        merge = int(budget * MERGE_SHARE)
        self.frame_records = max(1 << 6, min(1 << 16,
                                             merge // (RECORD_BYTES * WORK_FACTOR * 16)))
        self.fan_in = max(2, merge // (self.frame_records * RECORD_BYTES * WORK_FACTOR))
        self.gather = int(budget * GATHER_SHARE)

    def _slices(self, b, k):
        """(keys, suffix, count) of level k of block b, a slice at a time; a few slices are
        asked for ahead (each a copy on the worker until it is here)."""
        length = self.lengths[b][k - 1]
        asked = collections.deque()
        for start in range(0, length, self.rows):
            asked.append(self.client.submit(_level_slice, self.futures[b], self.key, "train",
                                            k, start, start + self.rows, pure=False))
            if len(asked) > SLICES_AHEAD:
                yield _fetched(asked.popleft())
        while asked:
            yield _fetched(asked.popleft())

    def disk_index(self, maps, size):
        """The merged DiskIndex over `size` tokens (`maps`: each block's token map)."""
        blocks = [b for b, lengths in enumerate(self.lengths) if lengths is not None]
        first = np.zeros(size, np.int64)
        for b in blocks:
            tokens = ColumnGather(maps[b], self.gather)
            for keys, _, count in self._slices(b, 1):   # level 1's keys are the token ids
                np.add.at(first, tokens(keys), count)
        levels = [None, level_columns(self.space, "level1", np.arange(size, dtype=np.int64),
                                      np.zeros(size, np.int32), first)]
        del first
        row_maps = {b: maps[b] for b in blocks}
        for k in range(2, self.order + 1):
            if self.progress:
                self.progress(f"merging {k}-grams", k - 2, self.order - 1)
            runs = {b: self._renamed_run(b, k, maps[b], row_maps[b], size) for b in blocks}
            levels.append(self._merged(list(runs.values()), k))
            keys = levels[k].keys
            for b in blocks:
                if row_maps[b] is not maps[b]:
                    remove(self.space, row_maps[b])
                row_maps[b] = self._rows_of(runs[b], keys, k)
                self.space.removed(runs[b])
        for b in blocks:
            if row_maps[b] is not maps[b]:
                remove(self.space, row_maps[b])
        if self.progress:
            self.progress("merging", self.order - 1, self.order - 1)
        return DiskIndex(self.order, size, levels, self.padding, self.space)

    def _renamed_run(self, b, k, token_map, row_map, size):
        """Block b's level k renamed into the merged numbering: a sorted run on disk."""
        block_size = len(token_map)
        tokens = ColumnGather(token_map, self.gather)
        rows = ColumnGather(row_map, self.gather)
        writer = FrameWriter(self.space, f"block{b}-level{k}")
        last = -1
        for keys, suffix, count in self._slices(b, k):
            renamed = rows(keys // block_size) * size + tokens(keys % block_size)
            if len(renamed) and (renamed[0] <= last or np.any(renamed[1:] <= renamed[:-1])):
                raise InputError("a cluster block's counts are not sorted as counted")
            last = int(renamed[-1]) if len(renamed) else last
            suffix = rows(suffix)
            for start in range(0, len(renamed), self.frame_records):
                end = start + self.frame_records
                writer.write(renamed[start:end], suffix[start:end], count[start:end],
                             sorted_first=True)
        return writer.close()

    def _merged(self, runs, k):
        """The merge of the blocks' runs of level k (in several passes when there are more
        than `fan_in`), as a DiskLevel; the runs are kept (their row maps are made next)."""
        paths, made = list(runs), []
        while len(paths) > self.fan_in:
            grouped = []
            for start in range(0, len(paths), self.fan_in):
                group = paths[start:start + self.fan_in]
                writer = FrameWriter(self.space, f"level{k}-merged")
                for keys, suffix, count in merge_runs(group):
                    writer.write(keys, suffix, count, sorted_first=True)
                grouped.append(writer.close())
                for path in group:
                    if path in made:
                        self.space.removed(path)
                made.append(grouped[-1])
            paths = grouped
        writers = [ColumnWriter(self.space, f"level{k}-{what}", dtype)
                   for what, dtype in (("keys", np.int64), ("suffix", np.int32),
                                       ("count", np.int64))]
        for part in merge_runs(paths):
            for writer, column in zip(writers, part):
                writer.append(column)
        for path in paths:
            if path in made:
                self.space.removed(path)
        keys, suffix, count = (writer.close() for writer in writers)
        return DiskLevel(keys, suffix, compact_count_column(self.space, count))

    def _rows_of(self, run, keys, k):
        """A column: the merged level's row of each key of a block's run (every one is
        there), by walking the run's sorted keys along the merged keys."""
        writer = ColumnWriter(self.space, f"row-map{k}", np.int64)
        window = max(1 << 12, self.gather // 8)
        for frame in read_frames(run):
            writer.append(_sorted_rows(keys, frame[0], window))
        return writer.close()


def _fetched(future):
    result = future.result()
    future.release()
    return result


def _sorted_rows(column, keys, window):
    """Rows of ascending `keys` in a sorted column of unique keys that holds every one:
    each run of keys is found in a window read from where the first of them is."""
    out = np.empty(len(keys), dtype=np.int64)
    done = 0
    while done < len(keys):
        start = _bisect(column, int(keys[done]))
        values = column.read(start, start + window)
        end = done + int(np.searchsorted(keys[done:], values[-1], side="right"))
        at = np.searchsorted(values, keys[done:end])
        if not np.array_equal(values[at], keys[done:end]):
            raise InputError("a cluster block's counts are not in the merged level")
        out[done:end] = at + start
        done = end
    return out


def _bisect(column, key):
    """The first row of a sorted column whose value is at least `key`."""
    low, high = 0, column.length
    while high - low > 4096:
        middle = (low + high) // 2
        if column.read(middle, middle + 1)[0] < key:
            low = middle + 1
        else:
            high = middle
    return low + int(np.searchsorted(column.read(low, high), key))
