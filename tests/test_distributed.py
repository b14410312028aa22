"""Counting on a Dask cluster (bigram.cluster.dask_counting) against training in one process.

One LocalCluster of 2 worker processes serves every test. Inputs are cut into
blocks of a few hundred bytes, so each file is read by many tasks, lines are
cut at every kind of place, and the tree of combinations is several levels
deep. The reference is `train_model` in one process on the same files; the
models must agree array by array (every level's keys, suffix links and counts,
the vocabulary, lmplz's token ranks, every ln P and back-off) and in the
reported losses to the last digit. The hash split is checked against a plain
Python hash and plain `count_items` on the items of each split.

These tests need Dask (`pip install 'bigram[dask]'`) and are skipped without it.
"""

import os
import signal
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from conftest import NAMES, assert_same_index  # noqa: E402

from bigram.cluster import dask_counting as distributed  # noqa: E402
from bigram.cluster.dask_counting import hash_split, load_on_cluster  # noqa: E402
from bigram.errors import BigramError, InputError, OptionError  # noqa: E402
from bigram.ngrams.index import count_items  # noqa: E402
from bigram.ngrams.training_data import load_training_data  # noqa: E402
from bigram.settings import Cluster, Reading, TrainingSettings
from bigram.text.sources import read_items  # noqa: E402
from bigram.text.vocabulary import Vocabulary  # noqa: E402
from bigram.training.train import train_model  # noqa: E402

BLOCK = 1200   # bytes per task: dozens of blocks per file


@pytest.fixture(scope="module")
def cluster():
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as local:
        with Client(local) as client:
            yield local, client


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Character and word corpora: plain ASCII, and non-ASCII with a BOM, CRLF, blank lines,
    surrounding spaces and tabs."""
    folder = tmp_path_factory.mktemp("corpora")
    names = NAMES.read_text().splitlines()[:1500]
    plain = folder / "plain.txt"
    plain.write_text("\n".join(names) + "\n")
    mixed = folder / "mixed.txt"
    accented = [n.translate(str.maketrans("aeiou", "áéíóú")) for n in names[1500 - 400:]]
    lines = [f"  {n}\t" if i % 7 == 0 else n for i, n in enumerate(accented)]
    lines[10:10] = ["", "   ", "\u2028zoë"]
    mixed.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())   # no final newline
    rng = np.random.default_rng(5)
    vocabulary = ["the", "a", "cat", "sat", "on", "mat", "über", "naïve", "日本", "x", "y"]
    text = [" ".join(rng.choice(vocabulary, size=rng.integers(1, 9))) for _ in range(900)]
    text = [t.replace(" ", "\t", 1) if i % 5 == 0 else t for i, t in enumerate(text)]
    words = folder / "words.txt"
    words.write_text("\n".join(text[:450]) + "\n\n" + "\n".join(text[450:]) + "\n")
    return {"char": [str(plain), str(mixed)], "word": [str(words)]}


def assert_same_model(got, expected):
    """Two TrainingResults hold the same model and data, array by array, and equal losses."""
    assert got.data.vocabulary == expected.data.vocabulary
    assert got.data.items == expected.data.items
    assert got.data.bytes_read == expected.data.bytes_read
    assert_same_index(got.saved.model.counts, expected.saved.model.counts)
    assert set(got.saved.data_counts) == set(expected.saved.data_counts)
    for split, index in expected.saved.data_counts.items():
        assert_same_index(got.saved.data_counts[split], index)
    if expected.saved.model.token_rank is None:
        assert got.saved.model.token_rank is None
    else:
        np.testing.assert_array_equal(got.saved.model.token_rank, expected.saved.model.token_rank)
    ours, theirs = got.saved.model.backoff, expected.saved.model.backoff
    for k in range(1, expected.saved.model.order + 1):
        np.testing.assert_array_equal(ours.logprob[k], theirs.logprob[k], err_msg=f"ln P {k}")
        np.testing.assert_array_equal(ours.logbackoff[k], theirs.logbackoff[k],
                                      err_msg=f"back-off {k}")
    assert [(r.name, r.tokens, r.log_likelihood) for r in got.reports] == \
        [(r.name, r.tokens, r.log_likelihood) for r in expected.reports]


CASES = [("char", 2, "add-k")] + [(unit, order, method) for unit in ("char", "word")
                                  for order in (2, 3)
                                  for method in ("kneser-ney", "modified-kneser-ney")]


@pytest.mark.parametrize("unit,order,method", CASES)
def test_cluster_model_is_the_one_process_model(cluster, corpora, unit, order, method):
    files = corpora[unit]
    expected = train_model(files, TrainingSettings.of(test_size=0, unit=unit, order=order, method=method))
    got = train_model(files, TrainingSettings.of(test_size=0, unit=unit, order=order, method=method, dask=cluster[0].scheduler_address, block_bytes=BLOCK))
    assert got.data.cluster["blocks"] > 10
    assert_same_model(got, expected)


def _reference_hash(item, seed):
    """The split hash written plainly: sum of (code point + 1) * BASE**i mod 2**64, then
    splitmix64's finaliser on it xor the finalised seed."""
    base, mask = 0x9E3779B97F4A7C15, (1 << 64) - 1

    def mix(h):
        h ^= h >> 30
        h = (h * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & mask
        return h ^ (h >> 31)

    h = sum((ord(c) + 1) * pow(base, i, 1 << 64) for i, c in enumerate(item)) & mask
    return mix(h ^ mix(seed))


def test_hash_split_against_a_plain_reference(cluster, corpora):
    shares, seed = [70.0, 20.0, 10.0], 11
    files = corpora["char"]
    items = read_items(files)
    splits = {}
    for item in items:
        h = _reference_hash(item, seed)
        which = 0 if h < 0.7 * 2**64 else 1 if h < 0.9 * 2**64 else 2
        splits.setdefault(("train", "dev", "test")[which], []).append(item)
    codepoints = np.frombuffer("".join(items).encode("utf-32-le"), dtype=np.uint32)
    ends = np.cumsum([len(i) for i in items])
    got_split = hash_split(codepoints, ends - [len(i) for i in items], ends, shares, seed)
    assert np.bincount(got_split).tolist() == [len(splits[s]) for s in ("train", "dev", "test")]

    data = load_on_cluster(files, Cluster(cluster[0].scheduler_address), Reading(split="hash:70/20/10", split_seed=seed, block_bytes=BLOCK), order=3)
    vocabulary = Vocabulary(set("".join(items)), "char")
    assert data.vocabulary == vocabulary
    assert data.items == {s: len(v) for s, v in splits.items()}
    stoi = vocabulary.stoi()
    for split, chosen in splits.items():
        tokens = np.array([stoi[c] for item in chosen for c in item], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum([len(i) for i in chosen])])
        assert_same_index(data.counts[split], count_items(tokens, offsets, 3, len(vocabulary)))


def test_several_orders_in_one_pass_are_the_recounts_of_one_process(cluster, corpora):
    """Per padding (sentence padding reads a blank line as a sentence, makemore padding
    skips it: the word corpus has one), every order of a pass is one process's recount."""
    files = corpora["word"]
    reading = Reading(test_size=0, unit="word", block_bytes=BLOCK)
    for countings in ([(2, "makemore"), (3, "makemore")], [(3, "sentence"), (2, "sentence")]):
        data = load_on_cluster(files, Cluster(cluster[0].scheduler_address), reading,
                               countings=countings)
        reference = load_training_data(files, Reading(test_size=0, unit="word"), order=3,
                                       padding=countings[0][1])
        for order, padding in countings:
            assert_same_index(data.recount(order, padding)["train"],
                              reference.recount(order, padding)["train"])
    with pytest.raises(OptionError, match="one padding"):
        load_on_cluster(files, Cluster(cluster[0].scheduler_address), reading,
                        countings=[(2, "makemore"), (3, "sentence")])


def test_a_worker_killed_mid_run_changes_nothing(cluster, corpora):
    local, client = cluster
    files = corpora["char"]
    expected = train_model(files, TrainingSettings.of(test_size=0, order=3, method="kneser-ney"))
    before = client.run(os.getpid)
    killed = []

    def kill_one_worker(done, total, dashboard):
        # Kill a worker process once the first block is back: its finished and running
        # blocks are lost, and Dask must compute them again elsewhere.
        if done == 1 and not killed:
            address, pid = next(iter(before.items()))
            os.kill(pid, signal.SIGKILL)
            killed.append(address)

    got = train_model(files, TrainingSettings.of(test_size=0, order=3, method="kneser-ney", dask=local.scheduler_address, block_bytes=BLOCK // 4), dask_progress=kill_one_worker)
    assert killed
    assert_same_model(got, expected)
    deadline = time.time() + 20   # the nanny restarts the worker for the tests after this one
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert set(client.run(os.getpid).values()) != set(before.values())


def test_unreadable_inputs_are_one_line_errors(cluster, corpora, tmp_path):
    address = cluster[0].scheduler_address
    with pytest.raises(InputError, match="no such file: .*missing.txt"):
        load_on_cluster([str(tmp_path / "missing.txt")], Cluster(address), Reading(test_size=0))
    # Invalid UTF-8 deep inside the file: the worker names the line as one process does.
    bad = tmp_path / "bad.txt"
    bad.write_bytes(NAMES.read_bytes()[:5000] + b"caf\xe9\n" + b"emma\n" * 200)
    with pytest.raises(InputError) as one_process:
        load_training_data([str(bad)], Reading(test_size=0))
    with pytest.raises(InputError) as on_cluster:
        load_on_cluster([str(bad)], Cluster(address), Reading(test_size=0, block_bytes=BLOCK))
    assert str(on_cluster.value) == str(one_process.value)
    assert "\n" not in str(on_cluster.value)


def test_options_that_need_every_item_are_refused(cluster):
    address = cluster[0].scheduler_address
    with pytest.raises(OptionError, match="test_size 0"):
        load_on_cluster([str(NAMES)], Cluster(address))            # makemore's default split
    with pytest.raises(OptionError, match="hash:80/10/10"):
        load_on_cluster([str(NAMES)], Cluster(address), Reading(split="80/10/10"))
    with pytest.raises(OptionError, match="min_count"):
        load_on_cluster([str(NAMES)], Cluster(address), Reading(test_size=0, min_count=2))


def test_an_unreachable_scheduler_fails_within_seconds(monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_SECONDS", 1)
    start = time.time()
    with pytest.raises(BigramError, match="tcp://127.0.0.1:9 "):
        load_on_cluster([str(NAMES)], Cluster("tcp://127.0.0.1:9"), Reading(test_size=0))
    assert time.time() - start < 5


def test_cli_trains_on_a_cluster_and_prints_the_dashboard(cluster, corpora, cli, tmp_path):
    address = cluster[0].scheduler_address
    files = corpora["word"]
    one = cli("train", *files, "--unit", "word", "--order", "3", "--test-size", "0",
              "-o", tmp_path / "one.npz")
    assert one.code == 0, one.err
    on_cluster = cli("train", *files, "--unit", "word", "--order", "3", "--test-size", "0",
                     "--dask", address, "-o", tmp_path / "dask.npz")
    assert on_cluster.code == 0, on_cluster.err
    assert "Dask dashboard: http" in on_cluster.err
    assert on_cluster.out.replace("dask.npz", "one.npz") == one.out
    missing = cli("train", "missing.txt", "--dask", address, "--test-size", "0",
                  "-o", tmp_path / "never.npz")
    assert missing.code != 0 and missing.err.count("\n") == 1
    assert missing.err.startswith("error: ") and not (tmp_path / "never.npz").exists()


def test_without_dask_the_option_says_how_to_install_it(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = cli("train", "--dask", "local", "--test-size", "0", "-o", tmp_path / "m.npz")
    assert result.code != 0
    assert result.err == "error: --dask needs Dask, which is not installed: pip install " \
                         "'bigram[dask]'\n"
    assert not (tmp_path / "m.npz").exists()


def test_a_local_cluster_is_started_and_stopped(corpora):
    files = corpora["char"][:1]
    expected = train_model(files, TrainingSettings.of(test_size=0, order=2, method="witten-bell"))
    got = train_model(files, TrainingSettings.of(test_size=0, order=2, method="witten-bell", dask="local", dask_workers=1, block_bytes=4096))
    assert got.data.cluster["workers"] == 1
    assert_same_model(got, expected)


def test_tune_on_a_cluster_scores_the_hash_split(cluster, corpora):
    from bigram.training.tune import tune

    address, files = cluster[0].scheduler_address, corpora["char"]
    with pytest.raises(OptionError, match="hash:80/10/10"):
        tune(files, [2], methods=["kneser-ney"], strengths=[0.5], settings=TrainingSettings.of(split="80/10/10", dask=address))
    result = tune(files, [2, 3], methods=["kneser-ney"], strengths=[0.5], settings=TrainingSettings.of(split="hash:70/20/10", dask=address))
    assert len(result.trials) == 2
    for trial in result.trials:
        trained = train_model(files, TrainingSettings.of(order=trial.order, method="kneser-ney", smoothing=0.5, split="hash:70/20/10", dask=address, block_bytes=BLOCK))
        dev = {r.name: r for r in trained.reports}["dev"]
        assert trial.dev == pytest.approx(dev.nll, rel=1e-12)


# ---------------------------------------------------------------------- within --memory

BUDGETED = [(unit, order, method) for unit, order in (("char", 4), ("word", 3))
            for method in ("add-k", "witten-bell", "kneser-ney", "modified-kneser-ney")]


def _model_file_arrays(saved, path):
    from test_memory_budget import model_arrays

    from bigram.formats.modelfile import save

    save(path, saved)
    return model_arrays(path)


def _leftovers(folder):
    return [p for p in folder.iterdir() if p.name.startswith("bigram-build-")]


@pytest.mark.parametrize("unit,order,method", BUDGETED)
def test_cluster_counts_too_large_for_the_budget_merge_on_disk(cluster, tmp_path, unit, order,
                                                               method):
    """Under a budget the combined counts do not fit, the blocks' counts are merged on the
    client's disk (a DiskIndex, many blocks, merges in several passes) and estimated there:
    the model file is the one-process in-memory model's, array for array."""
    import gc

    from test_memory_budget import random_corpus

    path = str(random_corpus(tmp_path / "c.txt", order, unit, lines=500))
    common = dict(method=method, order=order, unit=unit, test_size=0)
    plain = train_model([path], TrainingSettings.of(**common))
    budgeted = train_model([path], TrainingSettings.of(
        dask=cluster[0].scheduler_address, block_bytes=BLOCK // 4, memory=1 << 14,
        temp_dir=str(tmp_path), **common))
    assert budgeted.data.cluster["blocks"] > 10
    assert type(budgeted.data.counts["train"]).__name__ == "DiskIndex"
    assert type(budgeted.saved.model).__name__ == "StreamedCountModel"
    a = _model_file_arrays(plain.saved, tmp_path / "a.npz")
    b = _model_file_arrays(budgeted.saved, tmp_path / "b.npz")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
    [x], [y] = plain.reports, budgeted.reports
    assert (x.name, x.tokens) == (y.name, y.tokens)
    assert y.log_likelihood == pytest.approx(x.log_likelihood, rel=1e-12)
    del budgeted
    gc.collect()
    assert not _leftovers(tmp_path)


def test_cluster_hash_split_merged_on_disk_is_the_cluster_model(cluster, corpora, tmp_path):
    """With dev and test splits: the on-disk merge gives the in-memory merge's model and
    held-out losses; a budget the counts fit keeps the combined counts in memory."""
    import gc

    address = cluster[0].scheduler_address
    common = dict(unit="word", order=3, method="modified-kneser-ney", split="hash:70/20/10",
                  dask=address, block_bytes=BLOCK)
    in_memory = train_model(corpora["word"], TrainingSettings.of(memory=1 << 30, **common))
    assert type(in_memory.data.counts["train"]).__name__ == "NgramIndex"
    on_disk = train_model(corpora["word"], TrainingSettings.of(
        memory=1 << 14, temp_dir=str(tmp_path), **common))
    assert type(on_disk.data.counts["train"]).__name__ == "DiskIndex"
    a = _model_file_arrays(in_memory.saved, tmp_path / "a.npz")
    b = _model_file_arrays(on_disk.saved, tmp_path / "b.npz")
    assert a.keys() == b.keys() and {"data_dev_3_keys", "data_test_3_keys"} <= a.keys()
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
    assert [(r.name, r.tokens) for r in on_disk.reports] == \
        [(r.name, r.tokens) for r in in_memory.reports]
    for x, y in zip(in_memory.reports, on_disk.reports):
        assert y.log_likelihood == pytest.approx(x.log_likelihood, rel=1e-12)
    del on_disk
    gc.collect()
    assert not _leftovers(tmp_path)


def test_tune_on_a_cluster_within_a_budget_is_the_in_memory_tune(cluster, corpora, tmp_path):
    """Counts too large for --memory are merged on disk for every order tuning asks, and
    every trial is estimated there: the same trials, losses and choice."""
    from bigram.training.tune import tune

    address, files = cluster[0].scheduler_address, corpora["word"]
    common = dict(split="hash:70/20/10", dask=address, unit="word", block_bytes=BLOCK)
    methods = ["witten-bell", "modified-kneser-ney"]
    expected = tune(files, [2, 3], methods=methods, settings=TrainingSettings.of(**common))
    got = tune(files, [2, 3], methods=methods, settings=TrainingSettings.of(
        memory=1 << 14, temp_dir=str(tmp_path), **common))
    assert type(got.saved.model).__name__ == "StreamedCountModel"
    assert type(expected.saved.model).__name__ == "CountModel"
    # Per order: five Witten-Bell strengths, modified Kneser-Ney estimated and searched.
    assert len(got.trials) == len(expected.trials) == 14
    for x, y in zip(expected.trials, got.trials):
        assert (x.order, x.method, x.strength, x.discounts) == \
            (y.order, y.method, y.strength, y.discounts)
        assert y.dev == pytest.approx(x.dev, rel=1e-12)
        assert y.train == pytest.approx(x.train, rel=1e-12)
    assert (got.chosen.order, got.chosen.method) == (expected.chosen.order,
                                                     expected.chosen.method)
    assert got.chosen.test == pytest.approx(expected.chosen.test, rel=1e-12)


def test_an_interrupted_merge_on_disk_leaves_nothing(cluster, corpora, tmp_path, monkeypatch):
    """Ctrl-C while the cluster's counts are merged on disk: no temporary file is left."""
    from bigram.cluster import disk_merge

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(disk_merge, "_sorted_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_model(corpora["word"], TrainingSettings.of(
            unit="word", order=3, test_size=0, dask=cluster[0].scheduler_address,
            block_bytes=BLOCK, memory=1 << 14, temp_dir=str(tmp_path)))
    assert not _leftovers(tmp_path)
