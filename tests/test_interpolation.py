"""Interpolated models: the mixture formula per token, EM weights, files and commands.

References: each component's own per-token log10 probabilities (full_scores, checked
against the kenlm module in test_kenlm_interface.py) mixed by hand, and a plain-Python
EM loop over them.
"""

import math
import random
from pathlib import Path

import pytest

import bigram

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
WORD_LINES = (FIXTURES / "words.train.txt").read_text().splitlines()
WORD_HELDOUT = [line for line in (FIXTURES / "words.heldout.txt").read_text().splitlines() if line]


def name_sentences(seed, count):
    """Another domain: lines of 3 to 8 names."""
    names = (ROOT / "data" / "names.txt").read_text().split()
    rng = random.Random(seed)
    return [" ".join(rng.sample(names[:3000], rng.randint(3, 8))) for _ in range(count)]


NAME_LINES = name_sentences(1, 600)
NAME_HELDOUT = name_sentences(2, 60)


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    folder = tmp_path_factory.mktemp("components")
    words = bigram.train(WORD_LINES, order=3, unit="word", method="modified-kneser-ney",
                         min_count=2)
    names = bigram.train(NAME_LINES, order=2, unit="word", method="witten-bell",
                         min_count=2)
    words.save(folder / "words.npz")
    names.save(folder / "names.npz")
    return folder / "words.npz", folder / "names.npz", FIXTURES / "words.o4.arpa.gz"


def mixed_by_hand(weights, scores):
    """log10 of sum_i w_i 10**s_i."""
    return math.log10(sum(w * 10 ** s for w, s in zip(weights, scores)))


def test_mixture_formula_per_token(components):
    paths = components
    weights = [0.5, 0.3, 0.2]
    mixed = bigram.interpolate(list(paths), weights=weights)
    models = [bigram.load(p) for p in paths]
    lines = WORD_HELDOUT[:15] + NAME_HELDOUT[:15]
    for line in lines:
        got = list(mixed.full_scores(line))
        parts = [list(m.full_scores(line)) for m in models]
        for position, (value, _, _) in enumerate(got):
            expected = mixed_by_hand(weights, [p[position][0] for p in parts])
            assert value == pytest.approx(expected, abs=1e-9), (line, position)
        assert mixed.score(line) == pytest.approx(sum(v for v, _, _ in got), abs=1e-9)
    # The block scorer (score_lines, `bigram score --file`, eval) gives the same numbers.
    for scored in mixed.score_lines(lines):
        assert scored.log10prob == pytest.approx(mixed.score(scored.item), abs=1e-9)
    report = mixed.evaluate(lines)
    total = sum(mixed.score(line) for line in lines) * math.log(10)
    assert report.nll == pytest.approx(-total / report.tokens, rel=1e-9)
    # The state calls mix the components' states.
    state, out, walked = bigram.State(), bigram.State(), 0.0
    mixed.BeginSentenceWrite(state)
    for word in lines[0].split() + ["</s>"]:
        walked += mixed.BaseScore(state, word, out)
        state, out = out, state
    assert walked == pytest.approx(mixed.score(lines[0]), abs=1e-9)


def plain_em(rows, rounds=1000, tolerance=1e-7):
    """compute-best-mix written out: rows are per-token component probabilities."""
    n = len(rows[0])
    weights = [1.0 / n] * n
    for _ in range(rounds):
        totals = [0.0] * n
        for probabilities in rows:
            mixed = sum(w * p for w, p in zip(weights, probabilities))
            for i in range(n):
                totals[i] += weights[i] * probabilities[i] / mixed
        new = [t / len(rows) for t in totals]
        moved = max(abs(a - b) for a, b in zip(new, weights))
        weights = new
        if moved < tolerance:
            break
    return weights


def prediction_rows(models, lines):
    """Per prediction of every line (kenlm's full_scores, `</s>` included), each model's
    probability."""
    rows = []
    for line in lines:
        columns = [[10 ** s for s, _, _ in m.full_scores(line)] for m in models]
        rows.extend(zip(*columns))
    return rows


def test_em_weights_match_plain_em_and_beat_each_model(components):
    words, names, _ = components
    dev = WORD_HELDOUT[:20] + NAME_HELDOUT[:30]
    tuned = bigram.interpolate([words, names], tune_on=dev)
    models = [bigram.load(words), bigram.load(names)]
    expected = plain_em(prediction_rows(models, dev))
    assert tuned.settings["weights"] == pytest.approx(expected, abs=1e-6)
    # Held-out text of the tuning domain: the mixture beats each model alone.
    test = WORD_HELDOUT[20:] + NAME_HELDOUT[30:]
    mixture = tuned.evaluate(test).perplexity
    for model in models:
        assert mixture < model.evaluate(test).perplexity


def test_em_reads_blank_lines_of_its_dev_text_as_eval_does(components, tmp_path):
    """A blank line of the dev text is the empty sentence (its `</s>`), as `bigram eval`
    reads the mixture's text and KenLM's `query` reads any."""
    words, names, _ = components
    lines = WORD_HELDOUT[:12] + ["", "  "] + NAME_HELDOUT[:10] + [""]
    dev = tmp_path / "dev.txt"
    dev.write_text("".join(x + "\n" for x in lines))
    tuned = bigram.interpolate([words, names], tune_on=dev)
    models = [bigram.load(words), bigram.load(names)]
    expected = plain_em(prediction_rows(models, lines))
    assert tuned.settings["weights"] == pytest.approx(expected, abs=1e-6)


def test_interpolated_file_every_command_reads(components, tmp_path, cli):
    words, names, arpa = components
    dev = tmp_path / "dev.txt"
    dev.write_text("\n".join(WORD_HELDOUT[:20] + NAME_HELDOUT[:30]) + "\n")
    out = tmp_path / "mix.npz"
    run = cli("interpolate", str(words), str(names), str(arpa), "-o", str(out),
              "--weights", "0.5,0.25,0.25")
    assert run.code == 0, run.err
    loaded = bigram.load(out)
    direct = bigram.interpolate([words, names, arpa], weights=[0.5, 0.25, 0.25])
    line = WORD_HELDOUT[3]
    assert loaded.score(line) == pytest.approx(direct.score(line), abs=1e-12)
    for command in (("eval", str(dev)), ("score", "--file", str(dev)), ("info",),
                    ("sample", "-n", "3", "--seed", "1"), ("score", line)):
        run = cli(*command[:1], "-m", str(out), *command[1:])
        assert run.code == 0, (command, run.err)
    run = cli("interpolate", str(words), str(names), "-o", str(tmp_path / "tuned.npz"),
              "--tune-on", str(dev))
    assert run.code == 0 and "EM on" in run.out
    # export writes SRILM's approximation (its values: test_arpa_mixture.py) and says so.
    run = cli("export", "-m", str(out), "-o", str(tmp_path / "mix.arpa"))
    assert run.code == 0 and "approximates it as SRILM's -mix-lm -write-lm" in run.err
    assert bigram.load(tmp_path / "mix.arpa").order == 4


def test_bad_weights_name_the_argument_or_the_flag(components, cli, tmp_path):
    words, names, _ = components
    with pytest.raises(bigram.OptionError) as error:
        bigram.interpolate([words, names], weights=[0.5, 0.6])
    assert str(error.value).startswith("weights must add up to 1")
    run = cli("interpolate", str(words), str(names), "-o", str(tmp_path / "m.npz"),
              "--weights", "0.5,0.6")
    assert run.code == 2 and "error: --weights must add up to 1" in run.err
    with pytest.raises(bigram.OptionError, match="one of them"):
        bigram.interpolate([words, names])
    with pytest.raises(bigram.OptionError, match="all of words"):
        bigram.interpolate([words, bigram.train(["ab", "ba"])], weights=[0.5, 0.5])


def test_mixture_rows_are_the_weighted_rows():
    """Sampling draws from sum_i w_i P_i(. | h) (components of one vocabulary here)."""
    import numpy as np

    a = bigram.train(WORD_LINES[:200], order=2, unit="word")
    b = bigram.train(WORD_LINES[:200], order=3, unit="word", method="kneser-ney")
    mixed = bigram.interpolate([a, b], weights=[0.25, 0.75]).saved.model
    state = mixed.start_state()
    for token in (5, 9, 0):
        rows = mixed.next_token_probabilities(np.array([state]))[0]
        own = [m.saved.model.next_token_probabilities(np.array([s]))[0]
               for m, s in zip((a, b), mixed._state_list[state])]
        assert rows == pytest.approx(0.25 * own[0] + 0.75 * own[1], abs=1e-6)
        state = int(mixed.advance(np.array([state]), np.array([token]))[0])


def test_the_file_holds_its_components(components, tmp_path, cli):
    """Moving or changing the component files after `interpolate` changes nothing: the
    file holds them (a count model's arrays; an ARPA file's back-off form as ARPA text)."""
    words, names, arpa = components
    copies = []
    for source in (words, names, arpa):
        copy = tmp_path / Path(source).name
        copy.write_bytes(Path(source).read_bytes())
        copies.append(copy)
    out = tmp_path / "mix.npz"
    assert cli("interpolate", *map(str, copies), "-o", str(out), "--weights",
               "0.5,0.25,0.25").code == 0
    lines = WORD_HELDOUT[:10] + NAME_HELDOUT[:10]
    direct = bigram.interpolate(list(components), weights=[0.5, 0.25, 0.25])
    expected = [direct.score(line) for line in lines]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for copy in copies:
        copy.rename(moved / copy.name)
    (moved / Path(words).name).write_bytes(Path(names).read_bytes())   # and one changed
    loaded = bigram.load(out)
    assert [loaded.score(line) for line in lines] == pytest.approx(expected, abs=1e-9)
    for command in (("info",), ("sample", "-n", "2", "--seed", "1")):
        run = cli(*command[:1], "-m", str(out), *command[1:])
        assert run.code == 0, (command, run.err)
    # Mixtures of models made in memory save too.
    a = bigram.train(WORD_LINES[:200], order=2, unit="word")
    b = bigram.train(NAME_LINES[:200], order=2, unit="word")
    mixed = bigram.interpolate([a, b], weights=[0.4, 0.6])
    mixed.save(tmp_path / "memory.npz")
    again = bigram.load(tmp_path / "memory.npz")
    assert again.score(lines[0]) == pytest.approx(mixed.score(lines[0]), abs=1e-12)


def test_files_written_before_embedding_still_load_and_check_their_components(
        components, tmp_path):
    """The earlier layout (metadata naming component files by path and SHA-256)."""
    import json

    from bigram.formats.modelfile import _text_array, _write_npz, interpolation_meta

    words, names, _ = components
    copy = tmp_path / "words.npz"
    copy.write_bytes(Path(words).read_bytes())
    mixed = bigram.interpolate([copy, names], weights=[0.5, 0.5])
    meta = interpolation_meta(mixed.saved.model)
    old = tmp_path / "old.npz"
    with open(old, "wb") as stream:
        _write_npz(stream, {"meta": _text_array(json.dumps(meta))})
    line = WORD_HELDOUT[0]
    assert bigram.load(old).score(line) == pytest.approx(mixed.score(line), abs=1e-12)
    copy.write_bytes(Path(names).read_bytes())
    with pytest.raises(bigram.ModelFileError, match="has changed"):
        bigram.load(old)
    copy.unlink()
    with pytest.raises(bigram.ModelFileError, match="which is missing"):
        bigram.load(old)
