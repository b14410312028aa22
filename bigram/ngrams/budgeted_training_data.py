"""load_training_data within a memory budget: the same TrainingData, the training split
counted from ids spilled to a temporary folder (bigram.ngrams.budgeted_counting).

The split, the vocabulary and the held-out splits are made exactly as in
bigram.ngrams.training_data; only where the training split's tokens wait, and how its
windows are sorted, differ.
"""

import contextlib
import signal
import threading
import weakref

from bigram.memory import keep_freed_memory, return_freed_memory
from bigram.ngrams.budgeted_counting import (
    SpillingCollector,
    chunk_tokens,
    count_spilled,
    disk_estimate,
    disk_least,
    open_space,
    reader_block_bytes,
)
from bigram.ngrams.columns import rows_for
from bigram.ngrams.spill import binary_bytes, human_bytes
from bigram.ngrams.training_data import (
    TrainingData,
    _assignment,
    _lmplz_ranks,
    _vocabulary,
    check_reading,
    collect_blocks,
)
from bigram.settings import Reading
from bigram.text.sources import KEEP_TEXT_LIMIT, Reader, resolve_sources
from bigram.text.splits import SPLITS
from bigram.write_behind import DEFAULT_LIMIT, limit, set_limit


@contextlib.contextmanager
def removed_on_termination():
    """SIGTERM (kill, a job scheduler's time limit) ends the build as Ctrl-C does, so the
    temporary folder is removed; the handler before is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def text_bytes(sources):
    """Bytes of the sources that are files (stdin counts 0)."""
    total = 0
    for source in sources:
        if source.path is not None:
            try:
                total += source.path.stat().st_size
            except OSError:
                pass
    return total


def load_training_data_budgeted(arguments, budget, reading=None, order=2, padding="makemore",
                                temp_dir=None, progress=None, note=None):
    """load_training_data, its training split counted within `budget` bytes (besides the
    finished levels) with runs spilled under `temp_dir`; `reading`
    (bigram.settings.Reading) as for load_training_data.

    `note(text)` hears the plan (budget, folder, free disk) once; `progress(stage, done,
    total)` hears each stage as it goes (total None when unknown).
    """
    reading = reading if reading is not None else Reading()
    unit = reading.unit
    percentages = check_reading(reading, order, padding)
    # Bytes waiting for the write-behind thread count against the budget: a 32nd of it at
    # most, from here on (the estimate that follows writes too; train_model puts the
    # bound back when it is done).
    set_limit(min(limit(), DEFAULT_LIMIT, budget // 32))
    sources = resolve_sources(arguments)
    size = text_bytes(sources)
    reader = Reader(sources, reading.encoding_errors, block_bytes=reader_block_bytes(budget),
                    lines=padding == "sentence")
    try:
        with removed_on_termination():
            space = open_space(temp_dir, disk_estimate(size, unit, order),
                               least=disk_least(size, unit))
            space.slice_rows = rows_for(budget)
            try:
                if note is not None:
                    from bigram.ngrams.spill import free_bytes

                    # Text from a pipe has no size ahead: no upper estimate to state.
                    upper = (f"; up to {human_bytes(space.needed)} needed if few of the "
                             "text's n-grams repeat" if space.needed else "")
                    note(f"memory budget {binary_bytes(budget)}, temporary folder "
                         f"{space.parent} ({human_bytes(free_bytes(space.folder))} free"
                         f"{upper})")
                data = _load(reader, sources, space, budget, reading, order, percentages,
                             padding, progress, size)
            except BaseException:
                space.close()
                raise
            # The training counts stay on disk: the folder goes when they do (or when the
            # process exits, whichever comes first).
            weakref.finalize(data.counts["train"], space.close)
            data.spilled = {"peak_bytes": space.peak}
            return data
    finally:
        reader.close()


def _load(reader, sources, space, budget, reading, order, percentages, padding, progress,
          size):
    unit = reading.unit
    labels = ", ".join(s.label for s in sources)
    assignment, split_info = _assignment(reader, labels, reading.test_size, reading.split_seed,
                                         percentages)
    # Reading and counting allocate, block after block and chunk after chunk, what the
    # one before freed: glibc keeps those blocks for reuse (with its defaults it returns
    # them and the next block faults its pages in again: a third of the CPU time on
    # repeated real text). Blocks above 32 MiB are still mapped and unmapped each time.
    keep_freed_memory()
    collector = SpillingCollector(unit, space, chunk_tokens(budget), reading.skip_symbols)
    # The training text is kept for `sample --novel` as in memory, while it is small
    # beside the budget too.
    held_out, train_items = collect_blocks(reader, labels, assignment, collector,
                                           min(KEEP_TEXT_LIMIT, budget // 8),
                                           progress=progress, size=size)
    spilled = collector.close()
    return_freed_memory()
    vocabulary, mapping, control = _vocabulary(collector, unit, reading.min_count,
                                               reading.max_vocab, force_unk=padding == "sentence")
    splits = [s for s in SPLITS if collector.items(s) > 0 or s == "train"]
    counts = {}
    for s in splits:
        if s == "train":
            counts[s] = count_spilled(space, spilled, mapping, len(vocabulary), order, padding,
                                      budget, progress, collector.writer.frames)
            space.removed(spilled)
        else:
            counts[s] = collector.count(s, mapping, len(vocabulary), order, padding,
                                        consume=True)
    return TrainingData(
        vocabulary=vocabulary, order=order, counts=counts,
        items={s: collector.items(s) for s in splits},
        sources=[s.label for s in sources], sha256=reader.sha256.hexdigest(),
        bytes_read=reader.bytes_read, split=split_info,
        held_out=held_out, train_items=train_items,
        vocabulary_control=control,
        token_rank=_lmplz_ranks(mapping, len(vocabulary), vocabulary.unk_id),
    )
