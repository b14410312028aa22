"""Sampling a query file a few items at a time: each item's chain started where the item
before it ended (sampling._attempt_in_turn), not at every uniform, with the same draws
as the model file's sampler and as the speculative chains."""

from pathlib import Path

import numpy as np
import pytest

import bigram
from bigram.formats import convert
from bigram.models import sampling
from bigram.models.query_sampling import compact_chain
from bigram.tensor.random import Generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"


def lines_of(name):
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An order-5 word model file (Kneser-Ney) and its query file."""
    folder = tmp_path_factory.mktemp("sample-query")
    model = bigram.train(lines_of("words.train.txt"), order=5, unit="word",
                         method="modified-kneser-ney")
    model.save(folder / "m.npz")
    convert.convert(folder / "m.npz", folder / "m.bq")
    return folder / "m.npz", folder / "m.bq"


def trie_walk(monkeypatch, in_turn=True):
    """No table of every state's row: the query file is sampled by the walk over its trie
    (and the model file by its back-off chain), as a large model is; and, `in_turn`,
    batches of up to as many items as the model has windows drawn one item after
    another, as on a large file (this one has a few hundred thousand windows)."""
    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    monkeypatch.setattr(sampling, "IN_TURN_WINDOWS", 1 if in_turn else 1 << 62)


def test_few_items_of_a_query_file_are_drawn_in_turn_and_equal_the_model_files(
        files, monkeypatch):
    trie_walk(monkeypatch)
    used = []
    real = sampling._attempt_in_turn
    monkeypatch.setattr(sampling, "_attempt_in_turn",
                        lambda *args: used.append(args[2]) or real(*args))
    model_file, query = files
    original = bigram.load(model_file)
    first = lines_of("words.train.txt")[0].split()[0]
    for n, seed, prefix, max_len in [(5, 1, "", 100), (64, 7, "", 100), (1, 12345, "", 100),
                                     (20, 3, first, 100), (30, 9, "", 4)]:
        mapped = bigram.load(query)
        drawn = mapped.sample(n=n, seed=seed, prefix=prefix, max_len=max_len)
        assert drawn == original.sample(n=n, seed=seed, prefix=prefix, max_len=max_len)
        assert len(drawn) == n
        assert mapped._saved.model._backoff is None   # never made whole in memory
    assert used == [5, 64, 1, 20, 30]   # the new path drew every one of them
    assert any(len(item.split()) == 4 for item in drawn)   # max_len 4 cut some items


def test_in_turn_and_speculative_chains_draw_the_same_items_and_leave_the_same_stream(files,
                                                                                      monkeypatch):
    """Both ways on one walk of the trie: the same tokens, cuts, end states, and the
    generator left at the same place (the next batch goes on from there)."""
    trie_walk(monkeypatch)
    _, query = files
    model = bigram.load(query)._saved.model
    chain = sampling.chain_for(model)
    assert chain.in_turn_items == sum(model.tables.rows[1:]) > 64
    start = model.start_state()
    for n, max_steps, seed in [(40, 100, 2), (64, 3, 5), (1, 100, 8)]:
        chain.in_turn_items = 0
        g_speculative = Generator().manual_seed(seed)
        speculative = sampling.sample(chain, n, g_speculative, start, max_steps)
        chain.in_turn_items = 64
        g_in_turn = Generator().manual_seed(seed)
        in_turn = sampling.sample(chain, n, g_in_turn, start, max_steps)
        assert np.array_equal(in_turn.tokens, speculative.tokens)
        assert np.array_equal(in_turn.offsets, speculative.offsets)
        assert (in_turn.cut, in_turn.draws) == (speculative.cut, speculative.draws)
        assert np.array_equal(in_turn.end_states, speculative.end_states)
        assert g_in_turn.words64(4).tolist() == g_speculative.words64(4).tolist()


def test_drawing_in_turn_makes_only_the_contexts_the_items_pass_through(files, monkeypatch):
    """The point of the change: the walk makes (reads from the file) the contexts of the
    items' own states and their suffixes, far fewer than speculative chains make."""
    _, query = files

    def contexts_made(in_turn):
        trie_walk(monkeypatch, in_turn)
        mapped = bigram.load(query)
        mapped.sample(n=5, seed=1)
        walk = compact_chain(mapped._saved.model.trie_chain())
        return sum(len(walk.contexts[j]) for j in walk.contexts)

    in_turn, speculative = contexts_made(True), contexts_made(False)
    assert 0 < in_turn * 4 < speculative


@pytest.mark.parametrize("batch", [1 << 20, 37])
def test_the_compact_walk_draws_what_the_trie_walk_draws(files, monkeypatch, batch):
    """CompactTrieChain (level 2 kept as token and F) against TrieChain (every number
    stored) on one query file: the same tokens and end states, speculative chains and
    items in turn, order 5 and order 2 (where a bigram's state is its token's); unigram
    contexts made all at once and a few successors at a time."""
    from bigram.models import query_sampling
    from bigram.models.trie_chain import ChainView, TrieChain

    trie_walk(monkeypatch)
    monkeypatch.setattr(query_sampling, "MAKE_SUCCESSORS", batch)
    _, query = files
    folder = query.parent
    bigram.train(lines_of("words.train.txt"), order=2, unit="word",
                 method="kneser-ney").save(folder / "two.npz")
    convert.convert(folder / "two.npz", folder / "two.bq")
    for path in (query, folder / "two.bq"):
        model = bigram.load(path)._saved.model
        walk = model.trie_chain()
        compact = compact_chain(walk)
        plain = TrieChain(walk.tables, walk.source)
        plain.suffix = walk.suffix   # the states model.start_state recorded
        start = model.start_state()
        for n, seed in [(300, 1), (40, 2)]:   # speculative, then in turn
            drawn = []
            for chain in (plain, compact):
                view = ChainView(chain)
                view.in_turn_items = 64
                drawn.append(sampling.sample(view, n, Generator().manual_seed(seed), start))
            assert np.array_equal(drawn[0].tokens, drawn[1].tokens)
            assert np.array_equal(drawn[0].offsets, drawn[1].offsets)
            assert np.array_equal(drawn[0].end_states, drawn[1].end_states)
        assert len(compact.store[2]) > 1000   # level 2 was walked, kept as 12 bytes a row
        assert compact.store[2]["token"].dtype == np.int32
        assert set(compact.store[2].arrays) == {"token", "cdf"}


def test_items_longer_than_a_segment_are_drawn_in_turn_piece_by_piece(files, monkeypatch):
    """An item longer than a segment goes on in pieces of one item each (sampling's
    _long_item): in turn too, the same items as the model file's, and the stream goes on
    from where they end."""
    trie_walk(monkeypatch)
    model_file, query = files
    drawn = []
    for path in (model_file, query):
        model = bigram.load(path)._saved.model
        batches = sampling.stream_items(model, 12, Generator().manual_seed(4), max_len=30,
                                        segment=3)
        drawn.append(sampling.whole_items(batches))
    assert drawn[0] == drawn[1]
    assert max(len(item.split()) for item in drawn[1]) > 3   # some items took pieces


@pytest.mark.parametrize("unk", [False, True])
def test_few_words_are_joined_as_join_tokens_joins_them(unk):
    """join_tokens' word-by-word path (a few drawn words, without laying out the whole
    vocabulary) against its array path: empty items, prefixes with and without a
    trailing space, <unk>; and join_tokens takes it only for a few words."""
    from bigram.text import vocabulary as module
    from bigram.text.vocabulary import Vocabulary, join_tokens

    words = [f"w{i}" for i in range(50)] + ["é", "日本"]
    vocabulary = Vocabulary(words, "word", unk)
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, len(vocabulary), 40)
    tokens[5] = 1   # <unk> where the vocabulary has it, else its first word
    offsets = np.array([0, 0, 3, 3, 10, 11, 25, 40])
    for prefix in ("", "a", "a b ", "日"):
        expected = module._join_in_arrays(vocabulary, tokens, offsets, prefix)
        assert module._join_few_words(vocabulary, tokens, offsets, prefix) == expected
    assert module._join_few_words(vocabulary, tokens, offsets, "")[0] == ""   # an empty item
    few = np.array([0, 2, 6])
    fresh = Vocabulary(words, "word", unk)
    assert join_tokens(fresh, tokens[:6], few, "a") == \
        module._join_in_arrays(vocabulary, tokens[:6], few, "a")
    assert fresh._words is None   # six words of 52: the pool was not made
    join_tokens(fresh, tokens, offsets)
    assert fresh._words is not None   # forty words: the array path made it
    assert ("<unk>" in " ".join(expected)) == unk
