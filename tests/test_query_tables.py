"""Query tables (query.py) and key lookups (lookup.py), as `score --file` uses them.

Every way of finding windows (dense tables, hash tables, sorted search) gives the
back-off rule's value written plainly (test_score_lines.reference_backoff); a model
file's stored tables give what the model gives, and damaged ones are refused; the
scoring threads give the blocks in input order, and errors in their place.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_hostile_files import write_model
from test_score_lines import ITEMS, WORD_ITEMS, reference_backoff

from bigram.arrays import sort_with_positions
from bigram.errors import InputError
from bigram.formats.modelfile import load, load_for_scoring, save
from bigram.models.scoring import render_sources, score_lines, tsv_lines
from bigram.ngrams import lookup, query
from bigram.ngrams.lookup import HashTable, sorted_search
from bigram.ngrams.query import QueryTables, TablesModel
from bigram.settings import TrainingSettings
from bigram.text.sources import BLOCK_BYTES
from bigram.training.train import train_model


def python_find(keys, queries):
    rows = {key: row for row, key in enumerate(keys.tolist())}
    return [rows.get(q, -1) for q in queries.tolist()]


@pytest.mark.parametrize("n, span", [(1, 10), (700, 2000), (20_000, 1 << 40)])
def test_hash_table_and_sorted_search_find_every_key_and_nothing_else(n, span):
    rng = np.random.default_rng(n)
    keys = np.unique(rng.integers(0, span, n))
    queries = rng.permutation(np.concatenate([keys, rng.integers(0, span, 3 * n)]))
    expected = python_find(keys, queries)
    table = HashTable.build(keys)
    assert table.find(queries).tolist() == expected
    assert sorted_search(keys, queries).tolist() == expected
    assert sorted_search(keys, queries, keys[::lookup.SAMPLE].copy()).tolist() == expected


def test_keys_that_crowd_one_region_still_hash_apart():
    # Keys parent * V + token of a few parents with many children each, as a trie level has.
    keys = (np.arange(50)[:, None] * 40_000 + np.arange(0, 30_000, 7)[None, :]).ravel()
    queries = np.concatenate([keys, keys + 1, keys + 3])
    assert HashTable.build(keys).find(queries).tolist() == python_find(keys, queries)


def trained(tmp_path, *, unit="char", order=4, method="modified-kneser-ney", text=None):
    """A count model trained on `text` (names.txt by default), saved and loaded back."""
    path = tmp_path / "corpus.txt"
    path.write_text(text if text is not None else (ROOT / "data" / "names.txt").read_text())
    saved = train_model([str(path)], TrainingSettings.of(order=order, method=method, unit=unit, test_size=0)).saved
    save(tmp_path / "m.npz", saved)
    return tmp_path / "m.npz"


@pytest.fixture(params=["dense", "hash", "sorted"])
def way(request, monkeypatch):
    """How levels are looked up: dense tables, or (none dense) hash tables, or sorted search."""
    if request.param != "dense":
        monkeypatch.setattr(query, "DENSE_TABLE_BYTES", 0)
    if request.param == "sorted":
        monkeypatch.setattr(lookup.HashTable, "fits", staticmethod(lambda n, span: False))
    return request.param


@pytest.mark.parametrize("order, method, unit", [
    (2, "add-k", "char"), (3, "witten-bell", "char"), (5, "kneser-ney", "char"),
    (4, "modified-kneser-ney", "char"), (5, "modified-kneser-ney", "word"),
    (3, "kneser-ney", "word")])
def test_every_way_of_finding_windows_gives_the_back_off_rule(tmp_path, way, order, method,
                                                               unit):
    text = None if unit == "char" else "\n".join(WORD_ITEMS) + "\n"
    model = load(trained(tmp_path, unit=unit, order=order, method=method, text=text)).model
    tables = model._query_tables = QueryTables.from_backoff(model.backoff)   # under `way`
    if way == "hash":
        tables.hashed = {k: HashTable.build(tables.keys[k]) for k in range(2, order + 1)}
    items = ([i for i in ITEMS if set(i) <= set(model.vocabulary.tokens)] if unit == "char"
             else WORD_ITEMS + ["the cat", ""])
    expected = reference_backoff(model, items)
    for result, (total, tokens) in zip(score_lines(model, items), expected):
        assert result.logprob == pytest.approx(total, abs=1e-9), result.item
        assert result.tokens == tokens


@pytest.mark.parametrize("unit", ["char", "word"])
def test_the_ways_agree_on_text_with_unknown_tokens(tmp_path, monkeypatch, unit):
    # Items with tokens the model lacks: skipped windows, counted OOVs, NaN-free totals.
    text = None if unit == "char" else "\n".join(WORD_ITEMS) + "\n"
    items = (["an1na", "zz9", "", "mary", "9"] if unit == "char"
             else ["the zebra sat", "zebra", "", "the cat sat on the zebra mat"])
    model = load(trained(tmp_path, unit=unit, order=4, method="kneser-ney",
                         text=text)).model
    dense = [(r.logprob, r.tokens, r.oov) for r in score_lines(model, items)]
    monkeypatch.setattr(query, "DENSE_TABLE_BYTES", 0)
    model._query_tables = QueryTables.from_backoff(model.backoff)
    compact = [(r.logprob, r.tokens, r.oov) for r in score_lines(model, items)]
    assert [c[1:] for c in compact] == [d[1:] for d in dense]
    assert [c[0] for c in compact] == pytest.approx([d[0] for d in dense], abs=1e-9)
    assert any(oov for _, _, oov in dense) and all(np.isfinite(lp) for lp, _, _ in dense)


def test_a_model_file_stores_its_tables_and_scoring_reads_only_them(tmp_path, monkeypatch):
    monkeypatch.setattr(query, "DENSE_TABLE_BYTES", 0)   # so level 2 gets a hash table
    path = trained(tmp_path, unit="word", order=5, text="\n".join(WORD_ITEMS) + "\n")
    with np.load(path) as npz:
        names = set(npz.files)
    assert {"model_query_1_adj", "model_query_5_adj", "model_query_4_below"} <= names
    assert "model_query_5_below" not in names
    light = load_for_scoring(path)
    assert isinstance(light, TablesModel) and set(light.tables.hashed) == {2}
    full = load(path).model
    items = WORD_ITEMS + ["the zebra", ""]
    assert [vars(r) for r in score_lines(light, items)] == \
        [vars(r) for r in score_lines(full, items)]


def _members(path):
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


@pytest.mark.parametrize("member, damage, message", [
    ("model_query_2_adj", lambda a: a.__setitem__(0, np.nan),
     "the scoring values at level 2 are not all numbers"),
    ("model_query_1_below", lambda a: a.__setitem__(3, np.inf),
     "the scoring back-off sums at level 1 are not all finite"),
])
def test_damaged_query_tables_are_refused_in_one_line(tmp_path, monkeypatch, member, damage,
                                                      message):
    monkeypatch.setattr(query, "DENSE_TABLE_BYTES", 0)
    arrays, meta = _members(trained(tmp_path, unit="word", order=3,
                                    text="\n".join(WORD_ITEMS) + "\n"))
    damage(arrays[member])
    bad = tmp_path / "bad.npz"
    write_model(bad, arrays, meta)
    (tmp_path / "t.txt").write_text("the cat\n")
    run = subprocess.run([sys.executable, "-m", "bigram", "score", "-m", str(bad), "--file",
                          str(tmp_path / "t.txt")], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"error: {bad} is damaged: {run.stderr.split('damaged: ')[1]}"
    assert message in run.stderr and run.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def names_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    return load_for_scoring(trained(folder, order=5))


def test_threads_give_every_block_in_input_order(tmp_path, names_model):
    names = (ROOT / "data" / "names.txt").read_bytes().rstrip(b"\n") + b"\n"
    text = tmp_path / "many.txt"
    text.write_bytes(names * (3 * BLOCK_BYTES // len(names) + 2))   # four blocks
    one = b"".join(render_sources(names_model, [str(text)], tsv_lines, workers=1))
    three = b"".join(render_sources(names_model, [str(text)], tsv_lines, workers=3))
    assert one == three and one.count(b"\n") == text.read_bytes().count(b"\n")


def test_an_unreadable_block_comes_after_the_output_of_those_before_it(tmp_path, names_model):
    names = (ROOT / "data" / "names.txt").read_bytes().rstrip(b"\n") + b"\n"
    good = names * (2 * BLOCK_BYTES // len(names) + 1)           # three blocks
    text = tmp_path / "bad.txt"
    text.write_bytes(good + b"ok\nbad \xff line\n")
    out, bad_line = [], good.count(b"\n") + 2
    with pytest.raises(InputError, match=rf"line {bad_line}\b"):
        for result in render_sources(names_model, [str(text)], tsv_lines, workers=2):
            out.append(result)
    # At least the lines of the two whole blocks read before the bad one came out.
    assert b"".join(out).count(b"\n") >= good[:2 * BLOCK_BYTES].count(b"\n") - 1
    clean = b"".join(render_sources(names_model, [str(tmp_path / "bad.txt")], tsv_lines,
                                    encoding_errors="replace", workers=2))
    assert clean.startswith(b"".join(out))


def test_saving_turns_the_models_arrays_into_its_tables_and_the_model_still_works(tmp_path):
    (tmp_path / "words.txt").write_text("\n".join(WORD_ITEMS) + "\n")
    model = train_model([str(tmp_path / "words.txt")], TrainingSettings.of(order=4, unit="word", test_size=0, method="modified-kneser-ney")).saved.model
    items = WORD_ITEMS + ["the zebra"]
    before = [vars(r) for r in score_lines(model, items)]
    separate = QueryTables.from_backoff(model.backoff)   # copies: the model keeps its arrays
    described = model.describe()
    saved = train_model([str(tmp_path / "words.txt")], TrainingSettings.of(order=4, unit="word", test_size=0, method="modified-kneser-ney")).saved
    save(tmp_path / "m.npz", saved)                      # in place: the arrays become tables
    model = saved.model
    for k in range(1, 5):
        assert np.array_equal(model.query_tables().adj[k], separate.adj[k])
    assert [vars(r) for r in score_lines(model, items)] == before
    assert model.describe() == described
    assert model.backoff.logprob[2].shape == separate.adj[2].shape   # made again on demand
    assert [vars(r) for r in score_lines(load(tmp_path / "m.npz").model, items)] == before


def test_the_threads_option(cli, tmp_path):
    names = (ROOT / "data" / "names.txt").read_bytes().rstrip(b"\n") + b"\n"
    (tmp_path / "many.txt").write_bytes(names * 6)
    assert cli("train", str(ROOT / "data" / "names.txt"), "--order", "4", "--test-size",
               "0", "-o", "m.npz").code == 0
    outputs = []
    for threads in ("1", "3"):
        run = cli("score", "-m", "m.npz", "--file", str(tmp_path / "many.txt"), "--threads",
                  threads, "--oversubscribe")   # 3 threads, whatever the cores here
        assert run.code == 0
        outputs.append(run.out)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == names.count(b"\n") * 6
    for bad, message in ((["--file", "-", "--threads", "0"], "--threads must be 1 or more"),
                         (["emma", "--threads", "2"], "--threads goes with --file")):
        run = cli("score", "-m", "m.npz", *bad)
        assert run.code != 0 and run.err.startswith(f"error: {message}")


@pytest.mark.parametrize("high", [50, 1 << 62])   # positions in the low bits, or argsort
def test_sort_with_positions_is_a_stable_argsort(high):
    keys = np.random.default_rng(3).integers(0, high, 5000)
    expected = np.argsort(keys, kind="stable")
    for in_place in (False, True):
        given = keys.copy()
        ordered, order = sort_with_positions(given, in_place=in_place)
        assert order.tolist() == expected.tolist()
        assert ordered.tolist() == keys[expected].tolist()
        assert in_place or given.tolist() == keys.tolist()
    ordered, order = sort_with_positions(keys.copy(), skip=100)
    assert order.tolist() == expected[100:].tolist()
    assert ordered.tolist() == keys[expected[100:]].tolist()
