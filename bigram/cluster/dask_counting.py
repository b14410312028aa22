"""Counting on a Dask cluster: the same counts, and so the same model, as one process.

The inputs are cut into byte ranges (`CLUSTER_BLOCK_BYTES` each; a compressed input,
which cannot be entered in the middle, is one range, decompressed as a stream). A worker
reads the whole lines that *start* in its range (the line that crosses the
range's end is finished by reading on; the one that crosses its start
belongs to the range before), so every line is read by exactly one task,
wherever the cut falls. It counts them into an NgramIndex over a vocabulary
of its own (the tokens in order of first appearance, id 0 the boundary) and
sends back only that: the token strings and the index arrays, 16 bytes per
distinct window (an int64 key, int32 suffix link, int32 count), never text.

Block results are combined pairwise in a tree of tasks on the cluster: each
step takes the sorted union of two vocabularies, renames both indexes into
it and sums them level by level (`ngrams.merge_indexes`). Sums do not depend
on the order of the additions, so the root holds exactly the counts of
training in one process, over the same sorted vocabulary. The root is then
gathered here, where smoothing runs as usual.

modified Kneser-Ney numbers words in order of first appearance, as lmplz
does; each token carries where it first appeared (block number, then its
block-local id) and the smallest wins in every combination, which is the
order of first appearance in the whole input.

Splits: makemore's held-out items come from a permutation of every item,
which no block can draw alone. On a cluster, `--test-size 0` trains on
everything (the same model as one process), and `--split hash:80/10/10`
assigns each item by a seeded hash of its characters, so an item's split
depends on its text alone, never on the blocks. The default split is refused
with a message rather than quietly replaced. `--min-count` and `--max-vocab`
need the frequencies of the whole input before any id is fixed, and are
refused too.
"""

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from bigram.errors import BigramError, InputError, OptionError
from bigram.machine import cores
from bigram.ngrams.counting import TokenCollector
from bigram.ngrams.index import MAX_ORDER, PADDINGS, merge_indexes
from bigram.ngrams.training_data import TrainingData
from bigram.settings import DEFAULT_SPLIT_SEED, Reading
from bigram.text.compressed import DecompressedStream, codec_of, read_head
from bigram.text.sources import MAX_LINE_BYTES, UTF8_BOM, Reader, Source, packaged_names
from bigram.text.splits import SPLITS, parse_split
from bigram.text.vocabulary import UNITS, UNK, Vocabulary
from bigram.text.words import split_words, word_hashes

CLUSTER_BLOCK_BYTES = 64 << 20   # one task's byte range: ~1 GB of a worker's memory at order 3
CONNECT_SECONDS = 5              # how long a scheduler has to answer (--dask-timeout)
HASH_SPLIT = "hash:"
INSTALL = "pip install 'bigram[dask]'"
# Estimation holds several arrays per window beside the counts; below this share of the
# available memory the combined counts are estimated here.
ESTIMATION_FACTOR = 4


def require_dask():
    """The `distributed` module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise OptionError(f"--dask needs Dask, which is not installed: {INSTALL}") from None
    return distributed


# ---------------------------------------------------------------------- splits


def check_cluster_split(split, test_size, split_seed):
    """Hash-split shares (or None: every item trains) and the split's description."""
    if split is not None and str(split).startswith(HASH_SPLIT):
        if test_size is not None:
            raise OptionError("--test-size belongs to the makemore split; --split hash:... "
                              "sets every split's share")
        shares = parse_split(str(split)[len(HASH_SPLIT):])
        return shares, {"method": "hash", "seed": split_seed,
                        "shares": "/".join(f"{p:g}" for p in shares)}
    if split in (None, "makemore") and test_size == 0:
        return None, {"method": "none", "seed": split_seed, "test_size": 0}
    raise OptionError("--dask cannot draw makemore's or a percentage split (both permute every "
                      "item, which no block sees); pass --test-size 0 to train on everything, "
                      "or --split hash:80/10/10 to split each item by a hash of its text")


def _mix(h):
    """splitmix64's finaliser on uint64 values (wrapping), so every bit depends on every bit."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def hash_split(codepoints, starts, ends, shares, seed):
    """The split of each item (0 train, 1 dev, 2 test) from a seeded hash of its characters.

    An item goes to train when its 64-bit hash is below shares[0]% of 2**64,
    to dev below (shares[0] + shares[1])%, else to test.
    """
    hashes = word_hashes(codepoints, starts, ends)
    seeded = _mix(np.array([seed & ((1 << 64) - 1)], dtype=np.uint64))[0]
    hashes = _mix(hashes ^ seeded)
    cuts = [min((1 << 64) - 1, int(sum(shares[:i + 1]) * (1 << 64) // 100)) for i in range(2)]
    assignment = np.full(len(hashes), 2, dtype=np.uint8)
    assignment[hashes < np.uint64(cuts[1])] = 1
    assignment[hashes < np.uint64(cuts[0])] = 0
    return assignment


# ---------------------------------------------------------------------- planning


@dataclass(frozen=True)
class BlockSpec:
    """One task's byte range of one input."""

    number: int          # position in the input order (first appearance counts on it)
    label: str           # how the input is named in messages
    location: str | None  # path or fsspec URL; None: the bundled names.txt
    start: int
    end: int
    codec: str | None = None  # a compressed input ('gzip', ...): one task reads all of it


def _is_url(argument):
    return "://" in argument


def _open(location, label):
    """A binary file object for a path, an fsspec URL, or (None) the bundled names.txt."""
    try:
        if location is None:
            return open(packaged_names(), "rb")
        if _is_url(location):
            import fsspec

            return fsspec.open(location, "rb").open()
        return open(location, "rb")
    except FileNotFoundError:
        raise InputError(f"no such file on the worker: {label}") from None
    except IsADirectoryError:
        raise InputError(f"{label} is a directory, not a text file") from None
    except PermissionError:
        raise InputError(f"cannot read {label} on the worker: permission denied") from None
    except (OSError, ImportError, ValueError) as error:
        raise InputError(f"cannot read {label} on the worker: {error}") from None


def client_visible(arguments):
    """The arguments this machine can see (not URLs, and present here): the inputs an output
    must not overwrite. The workers resolve every argument themselves."""
    import glob

    return [a for a in arguments or [] if not _is_url(a)
            and (a == "-" or os.path.exists(os.path.expanduser(a))
                 or (glob.has_magic(a) and glob.glob(os.path.expanduser(a))))]


def _inputs(arguments):
    """(label, location, size) of every input, as the worker running this sees them."""
    from bigram.text.sources import resolve_sources

    if not arguments:
        return [("names.txt (bundled)", None, os.path.getsize(packaged_names()))]
    if "-" in arguments:
        raise OptionError("--dask reads files on the workers; stdin ('-') cannot be sent")
    found = []
    for argument in arguments:
        if not _is_url(argument):
            found.extend((s.label, str(s.path), s.path.stat().st_size)
                         for s in resolve_sources([argument]))
            continue
        try:
            import fsspec

            fs, path = fsspec.core.url_to_fs(argument)
            paths = sorted(fs.glob(path)) if any(c in path for c in "*?[") else [path]
            if not paths:
                raise InputError(f"no files match {argument}")
            for p in paths:
                url = fs.unstrip_protocol(p)
                found.append((url if len(paths) > 1 else argument, url, int(fs.size(p))))
        except FileNotFoundError:
            raise InputError(f"no such file on the worker: {argument}") from None
        except (OSError, ImportError, ValueError) as error:
            raise InputError(f"cannot read {argument} on the worker: {error}") from None
    return found


def _codec(location, label):
    """The compression of an input ('gzip', 'bzip2', 'xz', 'zstd'), from its first bytes."""
    with _open(location, label) as handle:
        return codec_of(read_head(handle))


def plan_blocks(arguments, block_bytes=CLUSTER_BLOCK_BYTES):
    """The byte ranges of every input, in input order (runs on a worker: its view of files).

    A compressed input cannot be entered at a byte offset, so it is one task, which
    decompresses it as a stream: several compressed files count in parallel, one does not.
    """
    specs = []
    for label, location, size in _inputs(arguments):
        codec = _codec(location, label) if size else None
        if codec is not None:
            specs.append(BlockSpec(len(specs), label, location, 0, size, codec))
            continue
        for start in range(0, size, block_bytes):
            specs.append(BlockSpec(len(specs), label, location, start,
                                   min(size, start + block_bytes)))
    return specs


# ---------------------------------------------------------------------- reading a block


def _read_range(handle, spec):
    """The bytes of the whole lines that start in [start, end), and where the first begins."""
    start = spec.start
    if start > 0:
        handle.seek(start - 1)
        skipped = 0
        while True:   # the line running into the range belongs to the range before
            piece = handle.readline(1 << 16)
            if not piece:
                return b"", spec.end
            skipped += len(piece)
            if piece.endswith(b"\n"):
                break
        start = start - 1 + skipped
    if start >= spec.end:
        return b"", start
    handle.seek(start)
    data = handle.read(spec.end - start)
    if data.endswith(b"\n") or len(data) < spec.end - start:
        return data, start
    tail = handle.readline(MAX_LINE_BYTES + 1)
    if len(tail) > MAX_LINE_BYTES and not tail.endswith(b"\n"):
        raise InputError(f"{spec.label}: a line near byte {spec.end:,} is longer than "
                         f"{MAX_LINE_BYTES:,} bytes; bigram reads one item (a name, a word, a "
                         "line of text) per line")
    return data + tail, start


def _lines_before(location, label, offset):
    """The line number of the line that starts at `offset` (only for error messages)."""
    lines = 1
    with _open(location, label) as handle:
        while offset > 0:
            piece = handle.read(min(offset, 1 << 20))
            if not piece:
                break
            lines += piece.count(b"\n")
            offset -= len(piece)
    return lines


def _parsed_blocks(reader, spec, data, first_line):
    """The reader's Blocks of the range's lines, about `reader.block_bytes` each."""
    source = Source(spec.label)
    if spec.start == 0 and data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    line, begin = first_line, 0
    while begin < len(data):
        if begin + reader.block_bytes >= len(data):
            cut = len(data)
        else:
            cut = data.rfind(b"\n", begin, begin + reader.block_bytes) + 1
            if cut == 0:
                raise InputError(f"{spec.label}: line {line} is longer than "
                                 f"{reader.max_line_bytes:,} bytes; bigram reads one item (a "
                                 "name, a word, a line of text) per line")
        piece = data[begin:cut]
        yield reader._parse(source, piece, line)
        line += piece.count(b"\n")
        begin = cut


@dataclass
class BlockCounts:
    """What a task sends back: its vocabulary, and its counts per (order, padding) and split."""

    tokens: list                  # token strings of ids 1.., sorted
    first_seen: np.ndarray        # (len(tokens),) int64: block number << 32 | first-appearance id
    counts: dict                  # (order, padding) -> {split: NgramIndex}
    items: dict                   # split -> items
    bytes_read: int
    blocks: int = 1

    def nbytes(self):
        """Bytes of the count arrays (what the next step receives)."""
        return sum(level.keys.nbytes + level.suffix.nbytes + level.count.nbytes
                   for splits in self.counts.values() for index in splits.values()
                   for level in index.levels[1:])


def count_block(spec, unit, countings, shares=None, split_seed=DEFAULT_SPLIT_SEED,
                encoding_errors="strict"):
    """Read one byte range and count its items at every (order, padding) of `countings`
    (one padding: sentence padding reads its lines as KenLM does, Block's `lines`)."""
    paddings = {padding for _, padding in countings}
    if len(paddings) != 1:
        raise BigramError(f"internal error: one padding per counting, not {sorted(paddings)}")
    reader = Reader([], encoding_errors, lines=paddings == {"sentence"})
    byte_pairs = unit == "char" and list(countings) == [(2, "makemore")]
    collector = TokenCollector(unit, byte_pairs)
    if spec.codec is not None:
        bytes_read = _count_compressed(reader, collector, spec, unit, shares, split_seed)
    else:
        bytes_read = spec.end - spec.start
        _count_range(reader, collector, spec, unit, shares, split_seed)
    tokens = collector.tokens()
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    ids = np.zeros(len(tokens) + 1, dtype=np.int64)
    ids[np.array(order, dtype=np.int64) + 1] = np.arange(1, len(tokens) + 1)
    splits = [s for s in SPLITS if collector.items(s)]
    counts = {(n, padding): {s: collector.count(s, ids, len(tokens) + 1, n, padding)
                             for s in splits}
              for n, padding in countings}
    first_seen = (np.int64(spec.number) << np.int64(32)) + np.array(order, dtype=np.int64)
    return BlockCounts([tokens[i] for i in order], first_seen, counts,
                       {s: collector.items(s) for s in splits}, bytes_read)


def _count_range(reader, collector, spec, unit, shares, split_seed):
    """Count the lines of a plain input's byte range (read whole: CLUSTER_BLOCK_BYTES)."""
    with _open(spec.location, spec.label) as handle:
        data, first_byte = _read_range(handle, spec)
    try:
        for block in _parsed_blocks(reader, spec, data, 1):
            _collect(collector, block, unit, shares, split_seed)
    except InputError:
        # Parse again, numbering lines as one process would, for the message.
        first = _lines_before(spec.location, spec.label, first_byte)
        for _ in _parsed_blocks(reader, spec, data, first):
            pass
        raise


def _count_compressed(reader, collector, spec, unit, shares, split_seed):
    """Count a compressed input, decompressed a block at a time; its text's size in bytes."""
    source = Source(spec.label)
    with _open(spec.location, spec.label) as handle:
        text = DecompressedStream(handle, spec.codec, spec.label)
        for _, block in reader._source_blocks(source, text, hash_bytes=True):
            _collect(collector, block, unit, shares, split_seed)
    return reader.bytes_read


def _collect(collector, block, unit, shares, split_seed):
    """Add a block's items to the collector, each in its split (as dataset._load does)."""
    if shares is None:
        if collector.byte_pairs and block.plain:
            collector.add_plain_block(block, "train")
        else:
            collector.add_items(*block.item_chars(), "train")
        return
    starts, ends = block.spans()
    assignment = hash_split(block.codepoints, starts, ends, shares, split_seed)
    if not collector.byte_pairs:
        # Ids in order of first appearance over every item, whatever its split.
        _first_ids(collector, unit, *block.item_chars())
    held_out = np.flatnonzero(assignment != 0)
    if collector.byte_pairs and block.plain:
        collector.add_plain_block(block, "train", held_out)
    else:
        collector.add_items(*block.item_chars(np.flatnonzero(assignment == 0)), "train")
    for name, code in (("dev", 1), ("test", 2)):
        which = np.flatnonzero(assignment == code)
        if len(which):
            collector.add_items(*block.item_chars(which), name)


def _first_ids(collector, unit, chars, offsets):
    if unit == "char":
        collector.index.ids(chars)
    else:
        starts, ends, _ = split_words(chars, offsets)
        collector.index.ids(chars, starts, ends)


# ---------------------------------------------------------------------- combining


def _renamed(index, mapping, size):
    return merge_indexes([index], [mapping], size)


def combine(left, right):
    """One BlockCounts of two: the sorted union of their tokens, counts renamed and summed."""
    # Plain Python strings and a dict (a loop over vocabulary entries, not tokens): numpy's
    # variable-width strings crashed worker processes on vocabularies of 10**4 words.
    union = sorted(set(left.tokens).union(right.tokens))
    position = {token: i for i, token in enumerate(union)}
    inverse = np.fromiter((position[t] for part in (left, right) for t in part.tokens),
                          dtype=np.int64, count=len(left.tokens) + len(right.tokens))
    size = len(union) + 1
    maps = []
    for part, where in ((left, inverse[:len(left.tokens)]), (right, inverse[len(left.tokens):])):
        mapping = np.zeros(len(part.tokens) + 1, dtype=np.int64)
        mapping[1:] = where + 1
        maps.append(mapping)
    first_seen = np.full(len(union), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_seen, inverse[:len(left.tokens)], left.first_seen)
    np.minimum.at(first_seen, inverse[len(left.tokens):], right.first_seen)
    counts = {}
    for key in left.counts:
        counts[key] = {}
        for split in SPLITS:
            having = [(p.counts[key][split], m) for p, m in zip((left, right), maps)
                      if split in p.counts[key]]
            if having:
                counts[key][split] = merge_indexes([h[0] for h in having],
                                                   [h[1] for h in having], size)
    items = {s: left.items.get(s, 0) + right.items.get(s, 0) for s in SPLITS
             if left.items.get(s, 0) + right.items.get(s, 0)}
    return BlockCounts(union, first_seen, counts, items, left.bytes_read + right.bytes_read,
                       left.blocks + right.blocks)


def _nbytes(counts):
    return counts.nbytes()


# ---------------------------------------------------------------------- the cluster


@dataclass
class ClusterTrainingData(TrainingData):
    """Training data counted on a cluster, with the counts of every order asked for."""

    tables: dict = field(default_factory=dict)   # (order, padding) -> {split: NgramIndex}
    cluster: dict = field(default_factory=dict)  # address, workers, blocks, dashboard

    def recount(self, order, padding="makemore"):
        """The counts at another order or padding, if they were counted on the cluster."""
        if (order, padding) not in self.tables:
            raise BigramError(f"order {order} with {padding} padding was not counted on the "
                              "cluster")
        return self.tables[order, padding]


def check_workers(workers, oversubscribe=False):
    """Refuse --dask-workers below 1, or above the cores unless `oversubscribe` insists
    (each worker is a process of its own: a thousand of them on two cores only take turns,
    in gigabytes of memory)."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise OptionError(f"--dask-workers must be 1 or more, not {workers}")
    available = cores()
    if workers > available and not oversubscribe:
        raise OptionError(f"--dask-workers {workers} is more than the {available} core(s) here; "
                          "pass --oversubscribe to start them anyway")


def _connect(distributed, address, timeout):
    """A Client of the scheduler at `address`, or one line saying why there is none.

    Connecting runs in a thread of its own that is given up after `timeout` seconds:
    Dask's own connect timeout does not cover a server that accepts the connection and
    then never answers.
    """
    import threading

    outcome = {}

    def connect():
        try:
            outcome["client"] = distributed.Client(address, timeout=f"{timeout}s")
        except BaseException as error:   # handed to the waiting thread
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="bigram-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if thread.is_alive():
        raise BigramError(f"no Dask scheduler answered at {address} within {timeout:g} s "
                          "(--dask-timeout); is that the scheduler's address and port?")
    error = outcome.get("error")
    if error is None:
        return outcome["client"]
    reason = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (ValueError, TypeError)):
        raise OptionError(f"--dask {address!r} is not a scheduler address ({reason}): give "
                          "tcp://host:port, or local")
    # Nothing listening (refused, unreachable): Dask retries until its timeout, then says so.
    if isinstance(error, (ConnectionRefusedError, TimeoutError)) or (
            isinstance(error, OSError) and ("refused" in reason.lower()
                                            or reason.startswith("Timed out trying"))):
        raise BigramError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                          f"({reason})")
    # An HTTP server, a proxy, anything that speaks another protocol: its answer is not
    # Dask's framing (read as a frame length it can ask for terabytes: MemoryError).
    raise BigramError(f"no Dask scheduler answered at {address}: something that is not a Dask "
                      f"scheduler is listening there ({type(error).__name__})")


def check_timeout(timeout):
    """Refuse a --dask-timeout that is not a positive number of seconds."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or \
            not 0 < timeout <= 86400:
        raise OptionError(f"--dask-timeout must be a number of seconds above 0 (at most a "
                          f"day), not {timeout}")


class Session:
    """A Dask client on `address` ('local': a LocalCluster of `workers` processes).

    A local cluster's workers are children of this process, and Dask's process wrapper in
    each watches a pipe from it: when this process dies, even by SIGKILL, they exit (a
    test counts them). SIGTERM and Ctrl-C close the cluster on the way out. Failures of our
    tasks are reported once, by the client, so the workers' own error logs are silenced.
    """

    def __init__(self, address, workers=None, timeout=None):
        distributed = require_dask()
        check_timeout(timeout)
        self.address = address
        self.cluster = None
        self.timeout = CONNECT_SECONDS if timeout is None else timeout
        if address == "local":
            check_workers(workers, oversubscribe=True)
            import logging

            # Our tasks' failures are reported once, by the client; the workers' own
            # "Compute Failed" tracebacks would repeat them on stderr.
            self.cluster = distributed.LocalCluster(
                n_workers=cores() if workers is None else workers, threads_per_worker=1,
                processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL)
            try:
                self.client = distributed.Client(self.cluster)
            except BaseException:
                self._close_cluster()
                raise
            return
        if workers is not None:
            raise OptionError("--dask-workers sizes a local cluster (--dask local); a "
                              "running scheduler has its own workers")
        self.client = _connect(distributed, address, self.timeout)

    def dashboard(self):
        """The dashboard's address, or None when the scheduler serves none."""
        services = self.client.scheduler_info().get("services", {})
        if "dashboard" not in services:
            return None
        link = self.client.dashboard_link
        if self.cluster is not None and importlib.util.find_spec("bokeh") is None:
            link += " (its pages need bokeh: pip install 'bokeh>=3.1')"
        return link

    def _close_cluster(self):
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def close(self):
        """Disconnect (and stop a local cluster)."""
        self.client.close()
        self._close_cluster()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def count_on_cluster(client, arguments, unit, countings, shares=None,
                     split_seed=DEFAULT_SPLIT_SEED, encoding_errors="strict",
                     block_bytes=CLUSTER_BLOCK_BYTES, progress=None, budget=None):
    """The BlockCounts of every input, counted block by block and combined in a tree on the
    cluster; `progress(done, total)` is called as blocks finish.

    With a `budget` (bytes), the blocks' futures instead (a list, left on the cluster)
    when their counts, summed, are too large to be estimated here within it (or within
    the memory available): cluster.disk_merge merges them on disk."""
    from distributed import as_completed

    specs = client.submit(plan_blocks, arguments, block_bytes, pure=False).result()
    if progress is not None:
        progress(0, len(specs))
    if not specs:
        return None
    futures = [client.submit(count_block, spec, unit, countings, shares, split_seed,
                             encoding_errors, pure=False) for spec in specs]
    finished = as_completed(futures)
    if budget is not None:
        for done, future in enumerate(finished, 1):
            if future.status == "error":
                future.result()
            if progress is not None:
                progress(done, len(specs))
        from bigram.cluster.disk_merge import combined_bytes

        if not fits_here(combined_bytes(client, futures), budget):
            return futures
        finished = []
    root = tree_combine(client, futures)
    # Only the root is held here, so each result is freed on the cluster once combined.
    del futures
    for done, future in enumerate(finished, 1):
        if future.status == "error":
            future.result()
        if progress is not None:
            progress(done, len(specs))
    size = client.submit(_nbytes, root, pure=False).result()
    if budget is None:
        _check_fits(size)
    return root.result()


def tree_combine(client, futures):
    """A future of the BlockCounts of every one of `futures`, combined pairwise in a tree of
    tasks on the cluster."""
    level = futures
    while len(level) > 1:
        pairs = [client.submit(combine, a, b, pure=False)
                 for a, b in zip(level[0::2], level[1::2])]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def _held_out_part(block):
    """A block's counts without its training split (and its tokens all, as they are)."""
    counts = {key: {s: index for s, index in splits.items() if s != "train"}
              for key, splits in block.counts.items()}
    return BlockCounts(block.tokens, block.first_seen, counts, dict(block.items),
                       block.bytes_read, block.blocks)


def _available_memory():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def fits_here(size, budget):
    """Whether combined counts of `size` bytes are estimated in memory here: within the
    budget and the memory available, with estimation's arrays beside them."""
    available = _available_memory()
    limit = budget if available is None else min(budget, available)
    return size * ESTIMATION_FACTOR <= limit


def _check_fits(size):
    available = _available_memory()
    if available is not None and size * ESTIMATION_FACTOR > available:
        raise BigramError(f"the combined counts take {size / 2**30:.1f} GB and estimating "
                          f"them needs about {ESTIMATION_FACTOR}x that, more than the "
                          f"{available / 2**30:.1f} GB available here: run the command on a "
                          "machine with more memory (the counts stay on the cluster until then)")


def load_on_cluster(arguments, cluster, reading=None, order=2, padding="makemore",
                    progress=None, countings=None, resources=None, note=None,
                    budget_progress=None):
    """Training data (as ngrams.training_data.load_training_data) counted on a Dask cluster.

    `cluster` (bigram.settings.Cluster) names the scheduler ('tcp://host:8786') or
    'local' and a LocalCluster's workers; `reading` (bigram.settings.Reading) says how
    the text is read and split. Each task reads `reading.block_bytes` of the input
    (CLUSTER_BLOCK_BYTES by default). `countings` lists every (order, padding) to
    count in the same pass (tuning needs several), all of one padding; the first is the
    data's own.
    `progress(done, total, dashboard)` hears of blocks as they finish; a scheduler has
    `cluster.timeout` seconds (CONNECT_SECONDS) to answer.

    `resources` (bigram.settings.Resources, its memory in bytes) bounds this process: when
    the blocks' counts are too large to estimate here within `resources.memory`, they are
    merged level by level into a DiskIndex under `resources.temp_dir` (cluster.disk_merge),
    `note(text)` and `budget_progress(stage, done, total)` hearing how it goes. Without
    it the combined counts come here whole (refused when the memory available is short).
    """
    reading = reading if reading is not None else Reading()
    unit, encoding_errors = reading.unit, reading.encoding_errors
    address = cluster.address
    require_dask()
    if unit not in UNITS:
        raise OptionError(f"--unit must be char or word, not {unit!r}")
    if reading.min_count is not None or reading.max_vocab is not None:
        raise OptionError("--min-count and --max-vocab need every token's frequency before "
                          "ids are fixed, which --dask does not gather; train without them")
    countings = list(countings or [(order, padding)])
    if len({pad for _, pad in countings}) > 1:
        # Sentence padding reads lines as KenLM does (a blank line is a sentence), makemore
        # padding the toolkit's items: one reading per pass.
        raise OptionError("the countings of one pass share one padding, not "
                          f"{sorted({pad for _, pad in countings})}")
    for n, pad in countings:
        if pad not in PADDINGS:
            raise OptionError(f"unknown padding {pad!r}")
        if not 2 <= n <= MAX_ORDER:
            raise OptionError(f"--order must be from 2 to {MAX_ORDER}, not {n}")
    if encoding_errors not in ("strict", "replace", "ignore"):
        raise InputError(f"unknown --encoding-errors {encoding_errors!r}: choose strict, "
                         "replace or ignore")
    shares, split_info = check_cluster_split(reading.split, reading.test_size, reading.split_seed)
    block_bytes = CLUSTER_BLOCK_BYTES if reading.block_bytes is None else int(reading.block_bytes)
    if block_bytes < 1:
        raise OptionError(f"the block size must be 1 byte or more, not {block_bytes}")
    with Session(address, cluster.workers, cluster.timeout) as session:
        dashboard = session.dashboard()
        n_workers = len(session.client.scheduler_info().get("workers", {}))

        def report(done, total):
            if progress is not None:
                progress(done, total, dashboard)

        budget = None if resources is None else int(resources.memory)
        total = count_on_cluster(session.client, list(arguments), unit, countings, shares,
                                 reading.split_seed, encoding_errors, block_bytes, report,
                                 budget)
        force_unk = any(pad == "sentence" for _, pad in countings[:1])
        if isinstance(total, list):   # too large to combine here: merged on disk
            from bigram.cluster.disk_merge import merge_on_disk

            client = session.client
            held_out = tree_combine(client, [client.submit(_held_out_part, f, pure=False)
                                             for f in total]) if shares is not None else None
            total = merge_on_disk(client, total, held_out, unit, force_unk, resources, note,
                                  budget_progress)
    labels = ", ".join(arguments) if arguments else "names.txt (bundled)"
    if total is None or not total.items:
        raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
    if hasattr(total, "tables"):
        vocabulary, tables = total.vocabulary, total.tables
    else:
        vocabulary, tables = _final_counts(total, unit, force_unk)
    first_order, first_padding = countings[0]
    return ClusterTrainingData(
        vocabulary=vocabulary, order=first_order, counts=tables[countings[0]],
        items=dict(total.items), sources=list(arguments) or ["names.txt (bundled)"],
        sha256=None, bytes_read=total.bytes_read, split=split_info,
        vocabulary_control={"min_count": None, "max_vocab": None, "unk_types": 0},
        token_rank=_lmplz_ranks(total, vocabulary) if first_padding == "sentence" else None,
        tables=tables,
        cluster={"address": address, "workers": n_workers, "blocks": total.blocks,
                 "dashboard": dashboard})


def _final_counts(total, unit, unk):
    """The vocabulary (sorted, as one process builds it) and every index renamed into it."""
    tokens = total.tokens
    if UNK in tokens:
        raise InputError(f"the text holds the token {UNK}, which bigram keeps for tokens "
                         "outside the vocabulary")
    vocabulary = Vocabulary(tokens, unit, unk=unk)
    mapping = np.arange(len(tokens) + 1, dtype=np.int64)
    mapping[1:] += vocabulary.first - 1
    tables = {key: {s: _renamed(index, mapping, len(vocabulary)) if unk else index
                    for s, index in splits.items()}
              for key, splits in total.counts.items()}
    return vocabulary, tables


def _lmplz_ranks(total, vocabulary):
    """lmplz's word ids (as dataset._lmplz_ranks): `<unk>` 0, `</s>` 2, then tokens from 3
    in order of first appearance in the whole input."""
    rank = np.zeros(len(vocabulary), dtype=np.int64)
    appearance = np.argsort(total.first_seen, kind="stable")
    rank[appearance + vocabulary.first] = np.arange(3, 3 + len(appearance))
    rank[0] = 2
    if vocabulary.unk_id is not None:
        rank[vocabulary.unk_id] = 0
    return rank
