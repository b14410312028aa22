"""Sampling names: exact inverse-CDF draws, reproducing PyTorch's multinomial, vectorised.

Each next token is one draw of ATen's multinomial-with-replacement rule: the
row's float32 probabilities are summed cumulatively in float32 and
normalised, one 53-bit uniform u is drawn from the torch-compatible
generator, and the token is the first whose cumulative probability is >= u.

Drawing names one after another is a single Markov chain over the stream of
uniforms (every name starts where the previous one drew the boundary), which
looks inherently sequential. It is vectorised in three moves:

1. Every position t of the uniform stream that could start a name (t = 0, or
   the previous uniform is small enough to draw the boundary from some
   state) starts a speculative chain; all chains advance together, one numpy
   step per character, and record how many uniforms they consume.
2. The real names are the orbit of position 0 under t -> t + consumed(t),
   found for n names at once by pointer doubling.
3. Only those n chains are replayed to record their characters.

`SequentialSampler`-style one-at-a-time drawing is what the tests compare
against; the output is identical.
"""

from dataclasses import dataclass

import numpy as np

from bigram.arrays import distinct
from bigram.errors import BigramError
from bigram.text.vocabulary import BOUNDARY

MANTISSA = 53
SCALE = float(1 << MANTISSA)
MASK53 = np.uint64((1 << MANTISSA) - 1)
BUCKET_BITS = 12


def normalised_cdf(probabilities):
    """ATen's cumulative distribution: float32 running sums divided by the row total, last = 1."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    cumulative = np.cumsum(probabilities, axis=-1, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        cumulative /= cumulative[..., -1:]
    cumulative[..., -1] = 1
    return cumulative


def uniform_integers(generator, n):
    """n 53-bit integers k; the uniform ATen draws is k * 2**-53."""
    return (generator.words64(n) & MASK53).astype(np.int64)


class InverseCdf:
    """Exact inverse-CDF lookups for rows of float32 probabilities (one row per state).

    The comparison `cdf_j < k * 2**-53` is done in integers as
    `floor(cdf_j * 2**53) < k`, which is exact. A table indexed by the top bits
    of k answers most draws with one gather; draws whose bucket holds a
    threshold fall back to an exact search.
    """

    def __init__(self, probabilities, table=True):
        cdf = normalised_cdf(probabilities)
        if not np.isfinite(cdf).all():
            raise ValueError("a probability row sums to zero or holds NaN")
        self.states, self.size = cdf.shape
        self.thresholds = np.floor(cdf.astype(np.float64) * SCALE).astype(np.int64)
        self.boundary_limit = int(self.thresholds[:, BOUNDARY].max())
        self._flat = None
        if self.states < (1 << 9):
            # Rows side by side in one sorted array: state s occupies [s * 2**54, (s+1) * 2**54).
            self._flat = (np.arange(self.states, dtype=np.int64)[:, None] << 54) + self.thresholds
            self._flat = self._flat.ravel()
        self.table = None
        if table and self._flat is not None:
            self._build_table()

    def _build_table(self):
        width = 1 << (MANTISSA - BUCKET_BITS)
        first = np.arange(1 << BUCKET_BITS, dtype=np.int64) * width
        states = np.repeat(np.arange(self.states), len(first))
        low = self.count_below(states, np.tile(first, self.states))
        high = self.count_below(states, np.tile(first + width - 1, self.states))
        self.table = low.reshape(self.states, -1).astype(np.int32)
        self.ambiguous = (low != high).reshape(self.states, -1)

    def count_below(self, states, k):
        """Number of thresholds of each state's row below k: the drawn token."""
        if self._flat is not None:
            return np.searchsorted(self._flat, (states.astype(np.int64) << 54) + k) - \
                states.astype(np.int64) * self.size
        low = np.zeros(len(k), dtype=np.int64)
        high = np.full(len(k), self.size, dtype=np.int64)
        flat = self.thresholds.ravel()
        base = states.astype(np.int64) * self.size
        while (high > low).any():
            mid = (low + high) // 2
            below = flat[base + np.minimum(mid, self.size - 1)] < k
            active = high > low
            low = np.where(active & below, mid + 1, low)
            high = np.where(active & ~below, mid, high)
        return low

    def draw(self, states, k):
        """The tokens drawn in `states` with uniform integers `k`."""
        if self.table is None:
            return self.count_below(states, k)
        bucket = k >> (MANTISSA - BUCKET_BITS)
        tokens = self.table[states, bucket]
        unsure = self.ambiguous[states, bucket]
        if unsure.any():
            tokens[unsure] = self.count_below(states[unsure], k[unsure])
        return tokens


class TableChain:
    """Every state's row computed once (small models: the lecture's bigrams, short contexts).

    One InverseCdf over all states' rows serves every draw, and the state after
    each (state, token) is looked up in a table when that table is small.
    """

    def __init__(self, model, temperature=1.0, draws=0):
        self.model = model
        states = np.arange(model.n_states())
        rows = tempered(model.next_token_probabilities(states), temperature)
        self.cdf = InverseCdf(rows, table=draws > 50_000)
        self.boundary_limit = self.cdf.boundary_limit
        self.transitions = self.by_token = None
        # The table of next states pays for itself only when the draws outnumber its cells.
        if len(states) * model.size <= min(TRANSITION_LIMIT, max(draws, 4096)):
            tokens = np.tile(np.arange(model.size), len(states))
            self.transitions = model.advance(np.repeat(states, model.size),
                                             tokens).reshape(len(states), model.size)
            if (self.transitions == self.transitions[:1]).all():   # bigrams: the token decides
                self.by_token = self.transitions[0]

    def draw(self, states, k):
        """Tokens drawn in `states` with uniform integers `k`."""
        return self.cdf.draw(states, k)

    def advance(self, states, tokens):
        """The states after the tokens drawn."""
        if self.by_token is not None:
            return self.by_token[tokens]
        if self.transitions is not None:
            return self.transitions[states, tokens]
        return self.model.advance(states, tokens)


class LazyChain:
    """Rows computed on demand, once per distinct state of a step, in bounded chunks (large
    vocabularies and long contexts: memory never grows with the number of states)."""

    def __init__(self, model, temperature=1.0):
        self.model, self.temperature = model, temperature
        self.boundary_limit = boundary_limit(model, temperature)

    def draw(self, states, k):
        """Tokens drawn in `states` with uniform integers `k` (one row per distinct state)."""
        unique, inverse = np.unique(states, return_inverse=True)
        inverse = inverse.ravel()
        tokens = np.zeros(len(states), dtype=np.int64)
        chunk = max(1, ROW_BUDGET // self.model.size)
        for start in range(0, len(unique), chunk):
            rows = tempered(self.model.next_token_probabilities(unique[start:start + chunk]),
                            self.temperature)
            cdf = InverseCdf(rows, table=False)
            mine = np.flatnonzero((inverse >= start) & (inverse < start + chunk))
            tokens[mine] = cdf.draw(inverse[mine] - start, k[mine])
        return tokens

    def advance(self, states, tokens):
        """The states after the tokens drawn."""
        return self.model.advance(states, tokens)


TABLE_LIMIT = 1 << 22          # states x V floats held at once by a TableChain
TRANSITION_LIMIT = 1 << 22     # states x V entries of its transition table
ROW_BUDGET = 1 << 22           # floats of rows a LazyChain computes at once


def boundary_limit(model, temperature):
    """The largest uniform integer that can draw the boundary in some state.

    A position can start an item only after a uniform small enough to draw the boundary
    in some state. With the model's bound on that probability (and a margin for float32
    rounding of the row's CDF), most positions are never tried.
    """
    bound = getattr(model, "boundary_bound", None)
    if bound is None or temperature != 1.0:
        return 1 << MANTISSA
    return min(1 << MANTISSA, int((bound() * (1 + 1e-4) + 1e-9) * SCALE) + 1)


def chain_for(model, temperature=1.0, draws=0):
    """The fastest exact chain for a model: every row at once for small ones, the back-off
    chain walked per draw for large back-off models (backoff_chain.py), else rows per
    distinct state (neural models, and any temperature but 1)."""
    states = model.n_states()
    if states is not None and states * model.size <= TABLE_LIMIT:
        return TableChain(model, temperature, draws)
    walk = model.trie_chain() if temperature == 1.0 and hasattr(model, "trie_chain") else None
    if walk is not None:   # a query file, mapped
        from bigram.models.query_sampling import compact_chain
        from bigram.models.trie_chain import ChainView

        chain = ChainView(compact_chain(walk))
        chain.boundary_limit = boundary_limit(model, temperature)
        # Each state first met reads its contexts' children ranges from the file, so
        # speculative chains (_attempt) cost pages, not just draws: on a large file, a
        # batch of few items is drawn one item after another instead (sample).
        chain.in_turn_items = sum(walk.tables.rows[1:]) // IN_TURN_WINDOWS
        return chain
    if temperature == 1.0 and hasattr(model, "backoff") and model.backoff is not None:
        from bigram.models.backoff_chain import BackoffChain

        chain = BackoffChain(model)
        chain.boundary_limit = boundary_limit(model, temperature)
        return chain
    return LazyChain(model, temperature)


@dataclass
class Chains:
    """What a set of speculative chains did: uniforms consumed, and whether cut at max length."""

    consumed: np.ndarray   # -1 where the chain ran past the drawn uniforms
    cut: np.ndarray
    states: np.ndarray | None = None   # each chain's state where it stopped


def run_chains(chain, k, starts, start_state, max_steps, record=False):
    """Advance one chain per start position until it draws the boundary or reaches max_steps."""
    n = len(starts)
    consumed = np.full(n, -1, dtype=np.int64)
    cut = np.zeros(n, dtype=bool)
    state = np.full(n, start_state, dtype=np.int64)
    alive = np.arange(n)
    trace = []
    for step in range(max_steps):
        if not len(alive):
            break
        position = starts[alive] + step
        inside = position < len(k)
        alive, position = alive[inside], position[inside]
        tokens = chain.draw(state[alive], k[position])
        if record:
            trace.append((alive, tokens))
        ended = tokens == BOUNDARY
        consumed[alive[ended]] = step + 1
        # Advanced with the very arrays drawn (a BackoffChain found the states then).
        following = chain.advance(state[alive], tokens)
        alive = alive[~ended]
        state[alive] = following[~ended]
    consumed[alive] = max_steps
    cut[alive] = True
    return Chains(consumed, cut, state), trace


def orbit(next_index, n):
    """[0, f(0), f(f(0)), ...] (n entries) for f given as an array, by pointer doubling."""
    path = np.zeros(n, dtype=np.int64)
    jump = next_index
    filled = 1
    while filled < n:
        take = min(filled, n - filled)
        path[filled:filled + take] = jump[path[:take]]
        filled += take
        jump = jump[jump]
    return path


@dataclass
class Samples:
    """Sampled items: their tokens (without boundary), and how many were cut at max length."""

    tokens: np.ndarray     # all items' tokens, concatenated
    offsets: np.ndarray    # item i is tokens[offsets[i]:offsets[i+1]]
    cut: int
    draws: int             # uniforms consumed from the generator
    end_states: np.ndarray | None = None   # the chain's state after each item's tokens


def _attempt(chain, k, n, start_state, max_steps):
    """Sample n items from the uniforms k, or return None if k is too short."""
    length = len(k)
    # Item i starts at most i * max_steps uniforms in: nothing at or past n * max_steps
    # can be on the path, so no chain starts there.
    horizon = min(length, n * max_steps)
    starts = np.concatenate([[0], np.flatnonzero(k[:horizon - 1] <= chain.boundary_limit) + 1])
    chains, _ = run_chains(chain, k, starts, start_state, max_steps)
    # A chain cut at max_steps restarts where no boundary was drawn: chain from there too.
    is_start = np.zeros(length + 1, dtype=bool)
    is_start[starts] = True
    while True:
        ends = starts[chains.consumed >= 0] + chains.consumed[chains.consumed >= 0]
        ends = ends[ends < horizon]
        missing = distinct(ends[~is_start[ends]])
        if not len(missing):
            break
        is_start[missing] = True
        extra, _ = run_chains(chain, k, missing, start_state, max_steps)
        starts = np.concatenate([starts, missing])
        order = np.argsort(starts, kind="stable")
        starts = starts[order]
        chains = Chains(np.concatenate([chains.consumed, extra.consumed])[order],
                        np.concatenate([chains.cut, extra.cut])[order])
    sentinel = len(starts)
    index_of = np.full(length + 1, sentinel, dtype=np.int64)
    index_of[starts] = np.arange(len(starts))
    nxt = np.full(len(starts) + 1, sentinel, dtype=np.int64)
    known = chains.consumed >= 0
    nxt[:-1][known] = index_of[np.minimum(starts[known] + chains.consumed[known], length)]
    path = orbit(nxt, n)
    if (path == sentinel).any() or chains.consumed[path[-1]] < 0:
        return None
    real_starts = starts[path]
    replayed, trace = run_chains(chain, k, real_starts, start_state, max_steps, record=True)
    lengths = chains.consumed[path] - ~chains.cut[path]
    chain_ids = np.concatenate([a for a, t in trace]) if trace else np.zeros(0, np.int64)
    tokens = np.concatenate([t for a, t in trace]) if trace else np.zeros(0, np.int64)
    keep = tokens != BOUNDARY
    order = np.argsort(chain_ids[keep], kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    draws = int(real_starts[-1] + chains.consumed[path[-1]])
    return Samples(tokens[keep][order], offsets, int(chains.cut[path].sum()), draws,
                   replayed.states)


def _attempt_in_turn(chain, k, n, start_state, max_steps):
    """What _attempt gives, with chains started only where items really start: item i's
    chain runs from where item i - 1 drew the boundary (the orbit walked one item at a
    time), so the chain stands only in states the items pass through. None if k is too
    short."""
    position = 0
    chain_ids, drawn, lengths, cut, end_states = [], [], [], [], []
    for item in range(n):
        chains, trace = run_chains(chain, k, np.array([position]), start_state, max_steps,
                                   record=True)
        consumed = int(chains.consumed[0])
        if consumed < 0:
            return None
        chain_ids.extend(np.full(len(t), item, dtype=np.int64) for _, t in trace)
        drawn.extend(t for _, t in trace)
        lengths.append(consumed - (not chains.cut[0]))
        cut.append(bool(chains.cut[0]))
        end_states.append(int(chains.states[0]))
        position += consumed
    tokens = np.concatenate(drawn) if drawn else np.zeros(0, np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Samples(tokens[tokens != BOUNDARY], offsets, int(sum(cut)), position,
                   np.array(end_states, dtype=np.int64))


# A query file's walk (chain_for) draws a batch of at most one item per this many windows
# of the model one item after another. A speculative chain starts at nearly every
# uniform (no bound on the boundary's probability is known), and on a large file each
# stands in contexts no item needs, whose children ranges are read and kept. Measured
# (one process each, this code both ways, machine loaded): on the order-5 model of
# 1.28 GB of text (606 M windows), 100 items took 18 s of CPU and 6.1 GB speculatively
# against 4.1 s and 1.6 GB in turn, 1,000 items 41 s and 9.1 GB against 36 s and 4.2 GB.
# In turn costs a numpy step per token (about 1 ms), so on a smaller file speculation
# wins: on a 12 M-window model, 64 items took 1.2 s against 1.7 s in turn, 1,000 items
# 5.9 s against 25 s.
IN_TURN_WINDOWS = 500_000


def sample(chain, n, generator, start_state=BOUNDARY, max_steps=100, per_item=16.0):
    """Sample n items, consuming the generator as one-at-a-time draws would (`chain` from
    `chain_for`). `per_item` is a guess of the uniforms an item takes (its length + 1):
    the buffer drawn is sized from it, and doubled until the n items fit."""
    if n == 0:
        return Samples(np.zeros(0, np.int64), np.zeros(1, np.int64), 0, 0)
    budget = max(4096, int(per_item * n))
    attempt = _attempt_in_turn if n <= getattr(chain, "in_turn_items", 0) else _attempt
    snapshot = generator.get_state()
    while True:
        generator.set_state(snapshot)
        result = attempt(chain, uniform_integers(generator, budget), n, start_state, max_steps)
        if result is not None:
            break
        budget *= 2
    generator.set_state(snapshot)
    generator.words64(result.draws)
    return result


def sample_one_at_a_time(model, n, generator, start_state=None, max_steps=100):
    """The plain reference: one uniform per token, one item after another."""
    start = model.start_state() if start_state is None else start_state
    items = []
    for _ in range(n):
        state, item = start, []
        while len(item) < max_steps:
            u = generator.uniform64(1)[0]
            row = model.next_token_probabilities(np.array([state]))[0]
            cdf = normalised_cdf(row).astype(np.float64)
            token = int(np.searchsorted(cdf, u, side="left"))
            if token == BOUNDARY:
                break
            item.append(token)
            state = int(model.advance(np.array([state]), np.array([token]))[0])
        items.append(item)
    return items


# ---------------------------------------------------------------------- names


def tempered(probabilities, temperature):
    """P ** (1 / T), renormalised per row (T < 1 sharpens, T > 1 flattens); zeros stay zero."""
    if temperature == 1.0:
        return probabilities
    with np.errstate(divide="ignore"):
        logits = np.log(np.asarray(probabilities, dtype=np.float64)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def decode(vocabulary, samples, prefix=""):
    """The sampled items as strings, each starting with `prefix` (words joined by spaces)."""
    from bigram.text.vocabulary import join_tokens

    return join_tokens(vocabulary, samples.tokens, samples.offsets, prefix)


def utf8_lines(vocabulary, samples, prefix=""):
    """The sampled items as UTF-8 bytes, each `prefix` + item + newline.

    What `"".join(item + "\\n" for item in decode(...)).encode()` gives; for characters
    without building a Python string per item (the cost that dominated writing large samples).
    """
    if vocabulary.unit != "char":   # words are joined by spaces, as decode does
        items = decode(vocabulary, samples, prefix)
        return ("\n".join(items) + "\n").encode("utf-8") if items else b""
    n = len(samples.offsets) - 1
    lengths = np.diff(samples.offsets)
    head = np.frombuffer(prefix.encode("utf-8"), dtype=np.uint8)
    table, widths = _utf8_table(vocabulary)
    token_widths = widths[samples.tokens]
    ends = np.zeros(len(samples.tokens) + 1, dtype=np.int64)
    np.cumsum(token_widths, out=ends[1:])
    item_bytes = ends[samples.offsets[1:]] - ends[samples.offsets[:-1]] + len(head) + 1
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(item_bytes, out=starts[1:])
    out = np.full(starts[-1], 0x0A, dtype=np.uint8)
    if len(head):
        out[(starts[:-1, None] + np.arange(len(head))).ravel()] = np.tile(head, n)
    # Token i of item j starts after j items' prefixes and newlines and the bytes before it.
    owner = np.repeat(np.arange(n), lengths)
    position = owner * (len(head) + 1) + len(head) + ends[:-1]
    for byte in range(table.shape[1]):
        wide = token_widths > byte
        out[position[wide] + byte] = table[samples.tokens[wide], byte]
    return out.tobytes()


def _utf8_table(vocabulary):
    """Each token index's UTF-8 bytes (one zero-padded row per index) and their count."""
    encoded = [b""] + [vocabulary.token(i).encode("utf-8") for i in range(1, len(vocabulary))]
    widths = np.array([len(b) for b in encoded], dtype=np.int64)
    table = np.zeros((len(encoded), int(widths.max(initial=1))), dtype=np.uint8)
    for row, raw in enumerate(encoded):
        table[row, :len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return table, widths


def select(samples, keep):
    """The samples where the boolean mask `keep` is true (`cut` and `draws` are left at 0)."""
    lengths = np.diff(samples.offsets)
    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=offsets[1:])
    return Samples(samples.tokens[np.repeat(keep, lengths)], offsets, 0, 0)


@dataclass
class ItemBatch:
    """One batch of a stream of samples, ready to write."""

    samples: Samples       # the batch's items as tokens
    vocabulary: object
    prefix: str
    cut: int               # items of this batch that reached the length limit
    draws: int             # uniforms this batch consumed from the generator
    cut_items: tuple = ()  # their numbers in the whole stream, from 1
    continues: bool = False   # its one item goes on from the previous batch's last item
    open_end: bool = False    # its last item goes on in the next batch

    def _prefix(self):
        if not self.continues:
            return self.prefix
        # A piece of an item begun before: no prefix; words still need their space.
        return " " if self.vocabulary.unit == "word" and len(self.samples.tokens) else ""

    def items(self):
        """The items as strings (a piece of an item where `continues` or `open_end`)."""
        return decode(self.vocabulary, self.samples, self._prefix())

    def lines(self):
        """The items as UTF-8 bytes, one per line (no line end after an open item)."""
        data = utf8_lines(self.vocabulary, self.samples, self._prefix())
        return data[:-1] if self.open_end else data

    def json_lines(self):
        """The items as UTF-8 JSON Lines, one JSON string per item; the escaping works
        character by character, so the pieces of a long item join into one string."""
        # encode_basestring is what json.dumps(a_str, ensure_ascii=False) does.
        from json.encoder import encode_basestring

        texts = [encode_basestring(text) for text in self.items()]
        if self.continues and texts:
            texts[0] = texts[0][1:]
        text = "".join(line + "\n" for line in texts)
        return (text[:-2] if self.open_end else text).encode("utf-8")


def whole_items(batches):
    """The items of a stream of ItemBatch as strings, the pieces of long items joined."""
    items = []
    for batch in batches:
        texts = batch.items()
        if batch.continues and texts:
            items[-1] += texts[0]
            texts = texts[1:]
        items.extend(texts)
    return items


STREAM_BATCH = 16_384   # items per batch: drawing is as fast as with larger ones, in ~50 MB
# Items are drawn this many tokens at a time: a longer one (a model that rarely ends an
# item, with a large --max-len) is written a piece at a time, so memory stays bounded.
LONG_SEGMENT = 4096
FIRST_BATCH = 1024      # the first lines appear at once; batches then grow 4x to STREAM_BATCH


def stream_items(model, n, generator, temperature=1.0, prefix="", max_len=100, exclude=None,
                 batch_size=STREAM_BATCH, segment=LONG_SEGMENT):
    """n items from the model, as ItemBatch objects of at most `batch_size` items each.

    Every batch continues the generator's stream where the previous one stopped, so the
    items are the same as one batch of n would give, and any prefix of them is what a
    smaller n gives. With `exclude` (e.g. the training items) only items not in it are
    kept: the first n novel items of that same stream.

    Items are drawn at most `segment` tokens at a time (without `exclude`): one that
    grows longer ends its batch open (`open_end`) and goes on in batches of one piece
    each (`continues`), drawn from the same uniforms, so memory stays that of a segment
    however long an item grows up to `max_len`.
    """
    start = model.start_state()
    prefix_tokens = model.vocabulary.encode_text(prefix) if prefix else []
    for token in prefix_tokens:   # a handful of tokens: the state after the prefix
        start = int(model.advance(np.array([start]), np.array([token]))[0])
    max_steps = max_len - len(prefix_tokens)
    steps = max_steps if exclude is not None else min(max_steps, segment)
    chain = chain_for(model, temperature, draws=16 * min(n, batch_size))
    excluded = None if exclude is None else np.array(sorted(exclude), dtype=str)
    written, draws, drawn_items, size = 0, 0, 0, min(FIRST_BATCH, batch_size)
    limit = 1000 * n + 100_000
    while written < n:
        wanted = n - written
        if excluded is not None:
            wanted = max(64, 2 * wanted)
        # Size the next buffer from the items drawn so far (a fifth more than their mean).
        per_item = 16.0 if not drawn_items else 1.2 * draws / drawn_items + 1
        snapshot = generator.get_state()
        result = sample(chain, min(wanted, size), generator, start, steps, per_item)
        lengths = np.diff(result.offsets)
        if steps < max_steps and (lengths == steps).any():
            first = int(np.argmax(lengths == steps))
            yield from _long_item(chain, generator, snapshot, result, first, written, steps,
                                  max_steps, model.vocabulary, prefix)
            written += first + 1
            draws += int(lengths[:first].sum()) + first   # the items that ended, for per_item
            drawn_items += first
            continue
        draws += result.draws
        drawn_items += len(result.offsets) - 1
        size = min(4 * size, batch_size)
        cut = lengths == max_steps   # only an item cut short is that long
        kept = result
        if excluded is not None:
            drawn = np.array(decode(model.vocabulary, result, prefix), dtype=str)
            novel = ~np.isin(drawn, excluded)
            novel &= np.cumsum(novel) <= n - written
            kept, cut = select(result, novel), cut[novel]
        numbers = tuple((written + 1 + np.flatnonzero(cut)).tolist())
        written += len(kept.offsets) - 1
        yield ItemBatch(kept, model.vocabulary, prefix, int(cut.sum()), result.draws, numbers)
        if excluded is not None and draws > limit and written < n:
            raise BigramError(f"only {written} novel items after {draws:,} draws: the model "
                              "almost always reproduces its training data")


def _long_item(chain, generator, snapshot, result, first, written, steps, max_steps,
               vocabulary, prefix):
    """The batch's items up to its `first`, which reached `steps` tokens without ending,
    then that item piece by piece until it ends or reaches `max_steps`; the generator is
    left where one-at-a-time drawing would be after it."""
    lengths = np.diff(result.offsets)
    # The uniforms of the items before it (each its tokens and its end) and of its tokens.
    used = int(lengths[:first].sum()) + first + steps
    generator.set_state(snapshot)
    generator.words64(used)
    head = Samples(result.tokens[:result.offsets[first + 1]], result.offsets[:first + 2], 0,
                   used)
    yield ItemBatch(head, vocabulary, prefix, 0, used, open_end=True)
    state, length, number = int(result.end_states[first]), steps, written + first + 1
    while True:
        piece = sample(chain, 1, generator, state, min(steps, max_steps - length), steps + 1)
        length += len(piece.tokens)
        ended = not piece.cut
        cut = not ended and length >= max_steps
        yield ItemBatch(piece, vocabulary, prefix, int(cut), piece.draws,
                        (number,) if cut else (), continues=True,
                        open_end=not (ended or cut))
        if ended or cut:
            return
        state = int(piece.end_states[0])


@dataclass
class NameSample:
    """Items drawn for the user, and how many of them reached the length limit."""

    names: list
    cut: int
    draws: int


def sample_names(model, n, generator, temperature=1.0, prefix="", max_len=100, exclude=None):
    """n items from the model; with `exclude`, only items not in that set (e.g. training items)."""
    batches = list(stream_items(model, n, generator, temperature, prefix, max_len, exclude))
    return NameSample(whole_items(batches), sum(b.cut for b in batches),
                      sum(b.draws for b in batches))
