"""Query files: a back-off model laid out to be mapped and scored, not read (`bigram convert`).

Layout (little-endian, every array starting on a 64-byte boundary):

    prefix     32 bytes: magic b"\\x93BIGRAMQ", version (u32), directory length (u32),
               file length (u64), crc32 of the directory (u32), crc32 of these
               first 28 bytes (u32)
    directory  JSON: the model's metadata, order, V, rows per level, bits, and for
               each array its name, offset, length in bytes and crc32
    arrays     vocabulary (UTF-8); for words, the words' 64-bit hashes (words.word_hashes),
               sorted, and the id of the word standing for each (u32), the ids of
               words whose hash an earlier word has listed in the directory
               ("collided"); per level k: tokens (k >= 2, ceil(log2 V) bits each),
               child offsets (k < order, rows + 1 values in ceil(log2(rows of k+1 + 1))
               bits), ln P and B (k < order) as float32 (levels 2 and up: in 31 bits
               where all of a level's values are <= 0, the sign bit left out, as KenLM
               stores probabilities; the directory's float_bits says which), or,
               with --quantize (levels 2 and up), adj (query.py) and B as codes of
               BITS bits with a table of 2**bits float64 bin centres each. Unquantized,
               a window's adj is its ln P less B of its parent, made where it is read.

(trie.py reads them). Opening checks, before anything is mapped: the magic,
version and both checksums of the prefix and directory; that the file's length is
the one declared; that every array the directory names has exactly the length
its rows and bits imply and lies inside the file, aligned, not overlapping
another. Then the file is mapped read-only and the small arrays (vocabulary, word
hashes, level 1, bin centres) are checked against their crc32 and their values; files up
to VERIFY_WHOLE bytes have every array checked so. The large tables of a large
file are not read at opening (that would cost what mapping saves): their
checksums are checked by `verify` (`bigram info --verify`), and nothing read
from them is trusted for addressing (trie.py clips every range), so a damaged
table gives wrong numbers, never a read out of bounds. A file shortened after it
was opened cannot be guarded against by any mapped format (the system then
stops the process, as it would KenLM's), but one shortened between
batches of queries is: its size is checked (fstat) before each batch, and a
file found shorter is refused in one line.
"""

import itertools
import json
import mmap
import operator
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from bigram.errors import BigramError, ModelFileError, OptionError
from bigram.formats.column_levels import ChildStarts, Sliced
from bigram.formats.files import QUERY_MAGIC as MAGIC
from bigram.formats.files import atomic_write
from bigram.formats.npzfile import damaged
from bigram.formats.quantize_bins import bins, codes_of
from bigram.ngrams.bitpack import bits_for, packed_words, write_packed
from bigram.ngrams.index import MAX_ORDER, PADDINGS
from bigram.ngrams.trie import SIGN
from bigram.text.vocabulary import UNITS, JoinedWords, Vocabulary
from bigram.text.words import increasing_spans

VERSION = 3
FORMAT = "bigram-query"
PREFIX = struct.Struct("<8sIIQII")
ALIGN = 64
MAX_DIRECTORY = 16 << 20
MAX_VOCABULARY = 1 << 27
MAX_ROWS = 1 << 40
MAX_QUANTIZE = 16
# Files up to this size have every array checked against its crc32 when opened.
VERIFY_WHOLE = 16 << 20
SLICE = 1 << 20
NEGATIVE_BITS = 31


# ---------------------------------------------------------------------- writing


def _layout(order, size, rows, quantize, vocabulary_bytes, float_bits=None, hashed=None):
    """The arrays of a query file in order: (name, bytes, kind, level). float_bits: the
    float arrays of levels 2 and up stored in 31 bits (name -> 31), the others 32;
    hashed: how many hashes a word vocabulary's hash table holds (None for characters)."""
    float_bits = float_bits or {}
    arrays = [("vocabulary", vocabulary_bytes, "text", 0)]
    if hashed is not None:
        arrays += [("word_hashes", 8 * hashed, "hashes", 0), ("word_ids", 4 * hashed, "ids", 0)]
    token_bits = bits_for(size - 1)
    for k in range(1, order + 1):
        if k > 1:
            arrays.append((f"{k}_tokens", 8 * packed_words(rows[k], token_bits), "tokens", k))
        if k < order:
            arrays.append((f"{k}_offsets", 8 * packed_words(rows[k] + 1, bits_for(rows[k + 1])),
                           "offsets", k))
        for what in (_first(quantize, k), "below") if k < order else (_first(quantize, k),):
            name = f"{k}_{what}"
            if quantize and k > 1:
                arrays.append((f"{name}_centres", 8 << quantize, "centres", k))
                arrays.append((name, 8 * packed_words(rows[k], quantize), "codes", k))
            elif float_bits.get(name) == NEGATIVE_BITS:
                arrays.append((name, 8 * packed_words(rows[k], NEGATIVE_BITS), "negatives", k))
            else:
                arrays.append((name, 4 * rows[k], "floats", k))
    return arrays


def _first(quantize, k):
    """What a level's first value array holds: ln P ("prob"), or, quantized (levels 2 and
    up), adj ("adj": codes of adj lose less than codes of ln P and of B apart)."""
    return "adj" if quantize and k > 1 else "prob"


def _float_bits(tables, order, quantize):
    """31 for each float array of level 2 and up whose values are all <= 0 (its float32
    sign bits all set, or +0.0, read back as -0.0), unquantized."""
    if quantize:
        return {}
    out = {}
    for k in range(2, order + 1):
        for what in ("prob", "below") if k < order else ("prob",):
            values = _values(tables, what, k)
            negative = all(not (values[i:i + SLICE] > 0).any()
                           for i in range(0, len(values), SLICE))
            if negative:
                out[f"{k}_{what}"] = NEGATIVE_BITS
    return out


def _values(tables, what, k):
    """ln P ("prob"), adj or B ("below") of level k, float64."""
    return tables.level_logprob(k) if what == "prob" else tables.level_values(what, k)


def _aligned(n):
    return -(-n // ALIGN) * ALIGN


def write_query_file(path, tables, vocabulary, meta, quantize=None, temp_dir=None):
    """Write query tables (query.QueryTables, or column_levels.ColumnLevels: tables
    whose levels are sequences read by slices) as a query file, atomically; returns True
    if an existing file was replaced. Each level is written a slice at a time: the memory
    used beyond the tables' own is a few slices (quantized, the bins of a large level are
    cut from its values sorted on the temporary disk, under `temp_dir`: quantize_bins)."""
    if quantize is not None and not 1 <= quantize <= MAX_QUANTIZE:
        raise OptionError(f"--quantize must be from 1 to {MAX_QUANTIZE} bits, not {quantize}")
    order, size = tables.order, tables.size
    rows = [0] + [len(tables.level_logprob(1))] + \
        [len(tables.level_keys(k)) for k in range(2, order + 1)]
    separator = "" if vocabulary.unit == "char" else "\n"
    vocabulary_text = separator.join(vocabulary.tokens).encode("utf-8")
    float_bits = _float_bits(tables, order, quantize)
    hashes = word_ids = None
    if vocabulary.unit == "word":
        from bigram.text.words import WordIndex

        hashes, word_ids, collided = WordIndex.from_words(vocabulary.tokens).stored_form()
    layout = _layout(order, size, rows, quantize, len(vocabulary_text), float_bits,
                     None if hashes is None else len(hashes))
    directory = {"format": FORMAT, "version": VERSION, "order": order, "size": size,
                 "padding": tables.padding, "unit": vocabulary.unit, "unk": vocabulary.unk,
                 "rows": rows[1:], "quantize": quantize, "float_bits": float_bits,
                 "meta": meta, "arrays": []}
    if hashes is not None:
        directory["collided"] = collided
    for name, length, _, _ in layout:
        directory["arrays"].append({"name": name, "offset": 0, "bytes": length,
                                    "crc32": "00000000"})
    # The directory's length does not depend on the offsets' and checksums' values: the
    # offsets are laid out after a first rendering, with room for every digit.
    text = _render(directory)
    offset = _aligned(PREFIX.size + len(text) + 20 * len(layout))
    for entry in directory["arrays"]:
        entry["offset"] = offset
        offset = _aligned(offset + entry["bytes"])
    file_length = offset
    centres = {}

    def fill(stream):
        stream.write(b"\0" * _aligned(PREFIX.size + len(text) + 20 * len(layout)))
        for entry, (name, length, kind, k) in zip(directory["arrays"], layout):
            stream.seek(entry["offset"])
            checksum = _Crc()
            if kind == "text":
                written = _write(stream, vocabulary_text, checksum)
            elif kind == "hashes":
                written = _write(stream, hashes.astype("<u8").tobytes(), checksum)
            elif kind == "ids":
                written = _write(stream, word_ids.astype("<u4").tobytes(), checksum)
            elif kind == "tokens":
                written = _write_tokens(stream, tables.level_keys(k), size, checksum)
            elif kind == "offsets":
                starts = ChildStarts(tables.level_keys(k + 1), rows[k], size)
                written = write_packed(stream, starts, bits_for(rows[k + 1]), checksum.update)
            elif kind == "floats":
                written = _write_floats(stream, _values(tables, name.split("_")[1], k),
                                        checksum)
            elif kind == "negatives":
                values = _values(tables, name.split("_")[1], k)
                low = Sliced(len(values), lambda a, b, v=values: np.asarray(
                    v[a:b], dtype="<f4").view("<u4") & np.uint32(SIGN - 1))
                written = write_packed(stream, low, NEGATIVE_BITS, checksum.update)
            elif kind == "centres":
                what = name.split("_")[1]
                # Bins of equal counts: the level's values sorted (on disk when large).
                centres[k, what] = bins(_values(tables, what, k), quantize, temp_dir)
                written = _write(stream, centres[k, what].astype("<f8").tobytes(), checksum)
            else:
                values = _values(tables, name.split("_")[1], k)
                table = centres[k, name.split("_")[1]]
                codes = Sliced(len(values), lambda a, b, v=values, t=table:
                               codes_of(v[a:b], t).astype(np.int64))
                written = write_packed(stream, codes, quantize, checksum.update)
            if written != length:
                raise BigramError(f"internal error: {name} is {written} bytes, not {length}")
            entry["crc32"] = f"{checksum.value:08x}"
        stream.truncate(file_length)
        stream.seek(0)
        body = _render(directory).encode("utf-8")
        prefix = PREFIX.pack(MAGIC, VERSION, len(body), file_length, zlib.crc32(body), 0)
        prefix = prefix[:-4] + struct.pack("<I", zlib.crc32(prefix[:-4]))
        stream.write(prefix + body)

    # Every piece handed to the stream is fresh (tobytes, packed slices): written behind.
    return atomic_write(path, fill, behind=True)


def _render(directory):
    return json.dumps(directory, ensure_ascii=False, sort_keys=True)


class _Crc:
    def __init__(self):
        self.value = 0

    def update(self, data):
        self.value = zlib.crc32(data, self.value)


def _write(stream, data, checksum):
    stream.write(data)
    checksum.update(data)
    return len(data)


def _write_tokens(stream, keys, size, checksum):
    tokens = Sliced(len(keys), lambda a, b: keys[a:b] % size)
    return write_packed(stream, tokens, bits_for(size - 1), checksum.update)


def _write_floats(stream, values, checksum):
    written = 0
    for start in range(0, len(values), SLICE):
        data = np.asarray(values[start:start + SLICE], dtype="<f4").tobytes()
        written += _write(stream, data, checksum)
    return written


# ---------------------------------------------------------------------- reading


def open_query_file(path, verify=False):
    """A query file as a SavedModel holding a QueryFileModel, mapped; every problem a
    one-line ModelFileError. `verify` checks every array's crc32 (reads the whole file)."""
    from bigram.formats.saved import SavedModel

    path = Path(path)
    try:
        with open(path, "rb") as stream:
            length = os.fstat(stream.fileno()).st_size
            head = stream.read(PREFIX.size)
            if len(head) < PREFIX.size or not head.startswith(MAGIC):
                raise ModelFileError(f"{path} is not a bigram query file")
            _, version, directory_length, declared, directory_crc, prefix_crc = \
                PREFIX.unpack(head)
            if zlib.crc32(head[:-4]) != prefix_crc:
                raise damaged(path, "its header does not match its checksum")
            if version != VERSION:
                raise ModelFileError(f"{path} is a query file of version {version}; this "
                                     f"bigram reads version {VERSION}: convert the model again")
            if declared != length:
                raise damaged(path, f"it is {length:,} bytes long but declares {declared:,} "
                                    "(truncated or extended)")
            if directory_length > min(MAX_DIRECTORY, length - PREFIX.size):
                raise damaged(path, f"its directory of {directory_length:,} bytes does not "
                                    "fit in the file")
            body = stream.read(directory_length)
            if len(body) != directory_length or zlib.crc32(body) != directory_crc:
                raise damaged(path, "its directory does not match its checksum")
            directory = _directory(body, path)
            entries = _check_layout(directory, length, path)
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
            guard = _SizeGuard(os.dup(stream.fileno()), length, path)
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {(error.strerror or str(error)).lower()}") \
            from None
    arrays = {name: np.frombuffer(mapped, dtype=np.uint8, count=entry["bytes"],
                                  offset=entry["offset"]) for name, entry in entries.items()}
    small = {"vocabulary", "word_hashes", "word_ids", "1_prob", "1_below", "1_offsets"} | \
        {name for name in arrays if name.endswith("_centres")}
    for name, entry in entries.items():
        checked = verify or length <= VERIFY_WHOLE or name in small
        if checked and _crc(arrays[name]) != int(entry["crc32"], 16):
            raise damaged(path, f"its table {name} does not match its checksum")
    vocabulary = _vocabulary(arrays, directory, path)
    if verify and vocabulary.unit == "word":
        _check_word_hashes(vocabulary, path)
    tables = _tables(directory, arrays, path)
    tables.guard = guard
    from bigram.models.query_model import QueryFileModel

    meta = dict(directory["meta"])
    meta.update({"format": FORMAT, "kind": QueryFileModel.kind, "order": directory["order"],
                 "unit": directory["unit"], "unk": directory["unk"],
                 "padding": directory["padding"], "vocabulary_size": directory["size"],
                 "quantize": directory["quantize"],
                 "ngrams": {str(k): n for k, n in enumerate(directory["rows"], 1)}})
    model = QueryFileModel(vocabulary, tables, meta, str(path))
    return SavedModel(model, {}, meta, None)


class _SizeGuard:
    """Checks, with fstat on the open file, that a mapped query file still has the length
    it had when mapped: a file shortened under us is refused in one line before its
    pages are read (reading them would stop the process with SIGBUS). A file shortened
    during one batch of queries, between the check and the reads, is not caught."""

    def __init__(self, descriptor, length, path):
        self.descriptor, self.length, self.path = descriptor, length, path

    def __call__(self):
        try:
            size = os.fstat(self.descriptor).st_size
        except OSError as error:
            raise ModelFileError(f"cannot read {self.path}: {error.strerror}") from None
        if size < self.length:
            raise ModelFileError(f"{self.path} was shortened while in use ({size:,} of its "
                                 f"{self.length:,} bytes left); open it again once it is "
                                 "written whole")

    def __del__(self):
        os.close(self.descriptor)


def verify(path):
    """Open a query file checking every table against its crc32."""
    return open_query_file(path, verify=True)


def _crc(array):
    value = 0
    view = memoryview(array)
    for start in range(0, len(view), 16 << 20):
        value = zlib.crc32(view[start:start + (16 << 20)], value)
    return value


def _whole(value, upper):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= upper


def _directory(body, path):
    try:
        directory = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise damaged(path, "its directory is not valid JSON") from None
    if not isinstance(directory, dict) or directory.get("format") != FORMAT:
        raise damaged(path, "its directory is not a query file's")
    order, size, rows = directory.get("order"), directory.get("size"), directory.get("rows")
    if not _whole(order, MAX_ORDER) or order < 2:
        raise damaged(path, f"its order {order!r} is not from 2 to {MAX_ORDER}")
    if not _whole(size, MAX_VOCABULARY) or size < 2:
        raise damaged(path, f"its vocabulary size {size!r} is not a whole number from 2")
    if not (isinstance(rows, list) and len(rows) == order and all(
            _whole(n, MAX_ROWS) for n in rows)) or rows[0] != size:
        raise damaged(path, "its rows per level are not whole numbers, one per order")
    quantize = directory.get("quantize")
    if quantize is not None and not (_whole(quantize, MAX_QUANTIZE) and quantize >= 1):
        raise damaged(path, f"its quantization {quantize!r} is not 1 to {MAX_QUANTIZE} bits")
    if directory.get("padding") not in PADDINGS or directory.get("unit") not in UNITS or \
            not isinstance(directory.get("unk"), bool) or \
            not isinstance(directory.get("meta"), dict):
        raise damaged(path, "its directory does not state padding, unit, <unk> and metadata")
    float_bits = directory.get("float_bits")
    if not isinstance(float_bits, dict) or any(
            bits != NEGATIVE_BITS or not isinstance(name, str) for name, bits in
            float_bits.items()):
        raise damaged(path, "its directory's float_bits are not 31 by array name")
    if not isinstance(directory.get("arrays"), list):
        raise damaged(path, "its directory lists no arrays")
    collided = directory.get("collided")
    words = size - (2 if directory["unk"] else 1)
    if directory["unit"] == "word" and not (
            isinstance(collided, list) and all(_whole(i, words - 1) for i in collided)
            and all(map(operator.lt, collided, itertools.islice(collided, 1, None)))):
        raise damaged(path, "its directory does not list the words whose hashes collide")
    return directory


def _check_layout(directory, length, path):
    """The directory's arrays by name, each checked: the one the rows and bits imply, of
    the length they imply, aligned, inside the file, after the directory and the array
    before."""
    order, size, rows = directory["order"], directory["size"], [0] + directory["rows"]
    entries = directory["arrays"]
    if not all(isinstance(e, dict) for e in entries) or not entries:
        raise damaged(path, "its array list is not a list of arrays")
    vocabulary_bytes = entries[0].get("bytes") if entries[0].get("name") == "vocabulary" \
        else None
    if not _whole(vocabulary_bytes, 4 * MAX_VOCABULARY * 64):
        raise damaged(path, "its first array is not the vocabulary")
    expected = _layout(order, size, rows, directory["quantize"], vocabulary_bytes,
                       directory["float_bits"], _hashed(directory))
    if len(entries) != len(expected):
        raise damaged(path, f"it lists {len(entries)} arrays, not the {len(expected)} of its "
                            "order")
    end = PREFIX.size
    out = {}
    for entry, (name, nbytes, _, _) in zip(entries, expected):
        offset, crc = entry.get("offset"), entry.get("crc32")
        if entry.get("name") != name or entry.get("bytes") != nbytes:
            raise damaged(path, f"its array {entry.get('name')!r} is not {name} of "
                                f"{nbytes:,} bytes")
        if not _whole(offset, length) or offset % ALIGN or offset < end or \
                offset + nbytes > length:
            raise damaged(path, f"its array {name} at {offset!r} lies outside the file, "
                                "overlaps another or is not aligned")
        if not (isinstance(crc, str) and len(crc) == 8 and
                all(c in "0123456789abcdef" for c in crc)):
            raise damaged(path, f"its array {name} has no checksum")
        end = offset + nbytes
        out[name] = entry
    return out


def _hashed(directory):
    """How many hashes a word vocabulary's hash table holds (None for characters)."""
    if directory["unit"] != "word":
        return None
    return directory["size"] - (2 if directory["unk"] else 1) - len(directory["collided"])


def _stored_hashes(arrays, directory, path):
    """The word hash table (WordIndex.from_joined's arguments), checked: hashes strictly
    increasing, ids naming words. Its values are not recomputed (that would cost what
    storing them saves); a wrong hash only makes its word unknown (every token is
    compared with the word its hash names)."""
    hashes, ids = arrays["word_hashes"].view("<u8"), arrays["word_ids"].view("<u4")
    words = directory["size"] - (2 if directory["unk"] else 1)
    if len(hashes) and (not (hashes[1:] > hashes[:-1]).all() or int(ids.max()) >= words):
        raise damaged(path, "its word hashes are not sorted or name words it does not have")
    return hashes, ids, directory["collided"]


def _check_word_hashes(vocabulary, path):
    """`verify`: the stored word hash table is the one the words make."""
    from bigram.text.words import WordIndex

    stored = vocabulary.stored_hashes
    made = WordIndex.from_words(vocabulary.tokens).stored_form()
    if not (np.array_equal(stored[0], made[0]) and np.array_equal(stored[1], made[1])
            and list(stored[2]) == list(made[2])):
        raise damaged(path, "its word hashes are not its words' hashes")


def _vocabulary(arrays, directory, path):
    """The vocabulary, checked as a whole: UTF-8; words separated by line feeds, none empty
    and none holding a space, tab, carriage return or NUL; sorted and distinct; no `<unk>`
    among them. A word vocabulary is checked on its bytes at once (numpy: sorted UTF-8
    bytes are sorted code points) and kept as one string (vocabulary.JoinedWords): no
    Python string per word is made until something asks for the list of words."""
    from bigram.text.vocabulary import UNK

    unit, unk, size = directory["unit"], directory["unk"], directory["size"]
    data = bytes(arrays["vocabulary"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged(path, "its vocabulary is not UTF-8") from None
    first = 2 if unk else 1

    def wrong_size():
        return damaged(path, f"its vocabulary is not {size - first:,} sorted distinct tokens")

    if unit == "char":
        tokens = list(text)
        if len(tokens) + first != size or UNK in tokens or \
                not all(map(operator.lt, tokens, itertools.islice(tokens, 1, None))):
            raise wrong_size()
        return Vocabulary.from_sorted(tokens, unit, unk)
    raw = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 0x0A)
    # Each word's span, made in place (int32 where it fits: these are the largest arrays
    # made at opening, and fresh pages are most of their cost).
    starts = np.zeros(len(breaks) + 1, dtype=np.int32 if len(raw) < 1 << 31 else np.int64)
    np.add(breaks, 1, out=starts[1:])
    ends = np.empty_like(starts)
    ends[:-1], ends[-1] = breaks, len(raw)
    count = len(starts) if data else 0
    if any(byte in data for byte in (b" ", b"\t", b"\r", b"\0")) or \
            (count and (ends == starts).any()):
        raise damaged(path, "its vocabulary holds an empty word or one with a space, tab "
                            "or control character")
    unk_word = UNK.encode()
    if count + first != size or data == unk_word or data.startswith(unk_word + b"\n") or \
            data.endswith(b"\n" + unk_word) or b"\n" + unk_word + b"\n" in data:
        raise wrong_size()
    if count and not increasing_spans(raw, starts, ends):
        raise wrong_size()
    return JoinedWords(text, count, unk, _stored_hashes(arrays, directory, path))


def _tables(directory, arrays, path):
    """trie.TrieTables over the mapped arrays; level 1 and the bin centres checked."""
    from bigram.ngrams.trie import LevelValues, PackedArray, TrieTables

    order, size, rows = directory["order"], directory["size"], [0] + directory["rows"]
    quantize = directory["quantize"]
    tokens, offsets = [None] * (order + 1), [None] * (order + 1)
    prob, below = [None] * (order + 1), [None] * (order + 1)
    for k in range(1, order + 1):
        if k > 1:
            tokens[k] = PackedArray(arrays[f"{k}_tokens"].view("<u8"), bits_for(size - 1),
                                    rows[k])
        if k < order:
            offsets[k] = PackedArray(arrays[f"{k}_offsets"].view("<u8"),
                                     bits_for(rows[k + 1]), rows[k] + 1)
        for what, into in ((_first(quantize, k), prob), ("below", below)):
            if what == "below" and k == order:
                continue
            name = f"{k}_{what}"
            if quantize and k > 1:
                centres = arrays[name + "_centres"].view("<f8").astype(np.float64)
                if np.isnan(centres).any() or np.isposinf(centres).any():
                    raise damaged(path, f"the bin centres of {name} are not all numbers")
                into[k] = LevelValues(codes=PackedArray(arrays[name].view("<u8"), quantize,
                                                        rows[k]), centres=centres)
            elif directory["float_bits"].get(name) == NEGATIVE_BITS:
                into[k] = LevelValues(codes=PackedArray(arrays[name].view("<u8"),
                                                        NEGATIVE_BITS, rows[k]), negative=True)
            else:
                into[k] = LevelValues(floats=arrays[name].view("<f4"))
    if np.isposinf(prob[1].floats).any():
        raise damaged(path, "the scoring values at level 1 are not all numbers")
    if not np.isfinite(below[1].floats).all():
        raise damaged(path, "the scoring back-off sums at level 1 are not all finite")
    return TrieTables(order, size, directory["padding"], rows, tokens, offsets, prob, below,
                      stored=_first(quantize, 2))
