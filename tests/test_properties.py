"""Property tests (hypothesis): counting over arbitrary Unicode, and model files round-trip."""

import numpy as np
from conftest import assert_same_index, bigram_index_of, count_matrix
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bigram.formats.modelfile import load, save
from bigram.formats.saved import SavedModel, model_meta
from bigram.models.language_models import CountModel
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading
from bigram.text.vocabulary import Vocabulary

TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def reference_items(text):
    return [w.strip() for w in text.splitlines() if w.strip()]


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(TEXT_CHARS, max_size=12), min_size=1, max_size=30),
       st.integers(8, 200), st.booleans())
def test_counting_any_unicode_in_any_chunking(tmp_path, strings, block_bytes, fast_path):
    text = "\n".join(strings)
    items = reference_items(text)
    path = tmp_path / "data.txt"
    path.write_bytes(text.encode("utf-8"))
    if not items:
        return
    data = load_training_data([str(path)], Reading(test_size=0, block_bytes=block_bytes), keep_text=0 if fast_path else 10 ** 9)
    whole = load_training_data([str(path)], Reading(test_size=0))
    counts = count_matrix(data.counts["train"])
    assert_same_index(data.counts["train"], whole.counts["train"])   # chunking: no change
    assert counts.sum() == sum(len(w) + 1 for w in items)           # one bigram per token
    vocabulary = data.vocabulary
    assert vocabulary.chars == sorted(set("".join(items)))
    frequency = {c: 0 for c in vocabulary.chars}
    for w in items:
        for c in w:
            frequency[c] += 1
    np.testing.assert_array_equal(counts.sum(1)[1:], [frequency[c] for c in vocabulary.chars])
    assert counts[0].sum() == len(items) == counts[:, 0].sum()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(chars={"😀", "𝔘", "a", ".", " ", "\u00e9"}, seed=1, smoothing=0.0)  # beyond the BMP
@example(chars={"\n"}, seed=0, smoothing=0.0)  # a line break: the vocabulary member is lines
@given(st.sets(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
       st.integers(0, 2 ** 32 - 1), st.floats(0, 3))
def test_model_file_round_trip_any_vocabulary(tmp_path, chars, seed, smoothing):
    vocabulary = Vocabulary(chars)
    size = len(vocabulary)
    counts = np.random.default_rng(seed).integers(0, 50, (size, size))
    counts[:, 0] += 1  # every row can end, so smoothing 0 still normalises
    model = CountModel(vocabulary, bigram_index_of(counts), smoothing)
    # Every prediction is one bigram, and every item ends in the boundary (column 0).
    meta = {**model_meta(model), "note": "".join(sorted(chars)),
            "data": {"items": {"train": int(counts[:, 0].sum())},
                     "tokens": {"train": int(counts.sum())}}}
    items = "\n".join(sorted(c for c in chars if not c.isspace() and c.isprintable()))
    path = tmp_path / "m.npz"
    save(path, SavedModel(model, {"train": bigram_index_of(counts)}, meta, items))
    loaded = load(path)
    assert loaded.vocabulary == vocabulary
    assert loaded.meta == meta
    assert loaded.train_items == items
    states = np.arange(model.n_states())
    np.testing.assert_array_equal(loaded.model.next_token_probabilities(states),
                                  model.next_token_probabilities(states))
    np.testing.assert_array_equal(count_matrix(loaded.model.counts), counts)
    np.testing.assert_array_equal(count_matrix(loaded.data_counts["train"]), counts)
