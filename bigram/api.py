"""bigram from Python: train or load a model, then score, evaluate, sample, save and export it.

The `bigram` command is built on these calls (one code path), so a notebook and
the command line give the same models, samples and losses. Options keep the
command line's names and defaults, and a bad value raises the toolkit's error
type (bigram.errors) with the command line's one-line message.

Data is given as a list of items (strings, one name, word or line each) or as
a path (str or os.PathLike; a glob or '-' for stdin as on the command line),
or a list of paths (os.PathLike). Items are read as the lines of a file are:
stripped of surrounding whitespace; a blank item or one holding a line break
is an error. A model trains on exactly the data it is given unless `split`
asks for the command line's makemore or percentage split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from bigram.errors import BigramError, InputError, OptionError, cli_message
from bigram.settings import DEFAULT_SEED, DEFAULT_SPLIT_SEED

ITEMS_LABEL = "<items>"         # how items given from Python are named in reports and errors

PathLike = str | os.PathLike
Data = PathLike | Sequence[str] | Sequence[os.PathLike] | None


# ---------------------------------------------------------------------- data


def _items_source(items):
    """Items held in memory as one corpus.Source: the items joined by newlines, as bytes."""
    from bigram.text.sources import Reader, Source, count_items, items_of_text

    try:
        text = "\n".join(items)
    except TypeError:
        kind = next(type(item).__name__ for item in items if not isinstance(item, str))
        raise InputError(f"items must be strings (or the data a path), not {kind}") from None
    if not items:
        raise InputError(f"{ITEMS_LABEL} holds no items (the list is empty)")
    source = Source(ITEMS_LABEL, data=text.encode("utf-8", errors="surrogatepass"))
    # Each non-blank item is at least one line; as many lines as items means none holds a
    # line break, so the model is trained on exactly these items.
    if all(map(str.strip, items)) and count_items(Reader([source])) == len(items):
        return source
    for i, item in enumerate(items):
        if not item.strip():
            raise InputError(f"item {i} of {ITEMS_LABEL} is blank; an item is one non-blank "
                             "line")
        if len(items_of_text(item)) > 1:
            raise InputError(f"item {i} of {ITEMS_LABEL} ({item!r}) holds a line break; an "
                             "item is one line")
    return source


def _sources(data):
    """The readers' arguments for `data`: paths as text, or items as one in-memory source."""
    if data is None:
        return []
    if isinstance(data, (str, os.PathLike)):
        return [os.fspath(data)]
    if isinstance(data, (bytes, bytearray)) or not isinstance(data, Sequence):
        raise InputError(f"data must be a list of items, a path or a list of paths, not "
                         f"{type(data).__name__}")
    if data and all(isinstance(entry, os.PathLike) for entry in data):
        return [os.fspath(entry) for entry in data]
    return [_items_source(data)]


def split(items: Sequence[str], split: str = "makemore", test_size: int | None = None,
          split_seed: int = DEFAULT_SPLIT_SEED) -> dict[str, list[str]]:
    """The items of each split ("train", "dev", "test"; each in the items' order), as
    `bigram train --split SPLIT --test-size N --split-seed S` divides them.

    "makemore" holds out the last `test_size` items of a seeded permutation
    (default min(1000, 10%)); percentages such as "80/10/10" cut it in shares.
    """
    import numpy as np

    from bigram.text.splits import default_test_size, parse_split, split_assignment

    _items_source(items)
    percentages = parse_split(split)
    if percentages is not None and test_size is not None:
        raise OptionError("--test-size belongs to the makemore split; --split sets every "
                          "split's share")
    n = len(items)
    if percentages is None:
        test_size = default_test_size(n) if test_size is None else int(test_size)
        if test_size < 0:
            raise OptionError(f"--test-size must be 0 or more, not {test_size}")
        if test_size >= n:
            raise OptionError(f"--test-size {test_size} leaves nothing to train on: the data "
                              f"has {n} items")
    assignment = split_assignment(n, split_seed, test_size, percentages)
    return {name: [items[i] for i in np.flatnonzero(assignment == code).tolist()]
            for code, name in enumerate(("train", "dev", "test"))}


# ---------------------------------------------------------------------- training and loading


def train(data: Data = None, *, model: str = "counts", order: int = 2, unit: str = "char",
          method: str = "add-k", smoothing: float | None = None, steps: int = 100,
          lr: float = 50.0, reg: float = 0.01, seed: int = DEFAULT_SEED,
          split: str | None = None, test_size: int | None = None,
          split_seed: int = DEFAULT_SPLIT_SEED, min_count: int | None = None,
          max_vocab: int | None = None, prune: Sequence[int] | None = None,
          discounts: dict[int, tuple[float, float, float]] | None = None,
          encoding_errors: str = "strict",
          progress: Callable[[int, float], None] | None = None, dask: str | None = None,
          dask_workers: int | None = None,
          dask_progress: Callable[[int, int, str], None] | None = None,
          skip_symbols: bool = False, dask_timeout: float | None = None,
          memory: int | None = None, temp_dir: PathLike | None = None,
          budget_progress: Callable[[str, int, int | None], None] | None = None,
          budget_note: Callable[[str], None] | None = None) -> Model:
    """Train a model on `data` (the bundled names.txt if None), as `bigram train` does.

    `model` is "counts" or "neural"; `method` is `--smoothing-method` (add-k,
    witten-bell, kneser-ney, modified-kneser-ney) and `smoothing` its strength
    (None: k 1, multiplier 1, or the estimated discount). Without `split` the
    model trains on all the data; `split="makemore"` (with `test_size`) or
    "80/10/10" holds items out as the command line does, and `Model.reports`
    has the loss of each split. `progress(step, loss)` is called at every
    neural training step. `dask` counts on a Dask cluster (bigram.cluster.dask_counting);
    `dask_timeout` is how many seconds a scheduler has to answer. The word `<unk>` in
    word text is the unknown word (the number met is in
    `Model.info()["vocabulary_control"]["literal_unk"]`); `skip_symbols` reads `<s>`,
    `</s>` and `<unk>` as spaces instead, as lmplz's --skip_symbols. `memory` (bytes)
    bounds counting: a text too large for it (and a count model's words from 16 MiB of
    text on, where that counter is the faster) is counted with sorted runs spilled under
    `temp_dir` (see docs/memory-budget.md); the model is the same.
    """
    from bigram.settings import TrainingSettings
    from bigram.training.train import train_model

    if split is None:
        if test_size not in (None, 0):
            raise OptionError("test_size belongs to split='makemore'; without a split the "
                              "model trains on all the data")
        split, test_size = "makemore", 0
    settings = TrainingSettings.of(
        model=model, order=order, unit=unit, method=method, smoothing=smoothing, steps=steps,
        lr=lr, reg=reg, seed=seed, split=split, test_size=test_size, split_seed=split_seed,
        min_count=min_count, max_vocab=max_vocab, prune=tuple(prune) if prune else None,
        discounts=discounts, encoding_errors=encoding_errors, dask=dask,
        dask_workers=dask_workers, dask_timeout=dask_timeout, skip_symbols=skip_symbols,
        memory=memory, temp_dir=None if temp_dir is None else str(temp_dir))
    result = train_model(_sources(data), settings,
                         progress=progress if model == "neural" else None,
                         dask_progress=dask_progress, budget_progress=budget_progress,
                         budget_note=budget_note)
    return Model(result.saved, {report.name: report for report in result.reports})


def load(path: PathLike) -> Model:
    """Read a model file written by `train`/`save` (or an ARPA file); a damaged or foreign
    file raises ModelFileError."""
    from bigram.formats.modelfile import load as load_file

    model = Model(load_file(path))
    model.path = os.fspath(path)
    return model


def interpolate(models: Sequence[Model | PathLike], weights: Sequence[float] | None = None,
                tune_on: Data = None, encoding_errors: str = "strict") -> Model:
    """The linear mixture of models of one unit (`bigram interpolate`): P(w | h) = sum of
    weight_i * P_i(w | h), each model with its own context and back-off.

    `models` are loaded Models or model/ARPA paths; give `weights` (adding up to 1) or
    `tune_on` held-out data (items or a path), whose perplexity EM then minimises, as
    SRILM's compute-best-mix. The result saves as one file that holds its components
    (it reads alone, wherever they go).
    """
    from bigram.formats.modelfile import SavedModel, interpolation_meta
    from bigram.models.interpolation import InterpolatedModel

    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Sequence):
        raise OptionError("models must be a list of models or model files")
    loaded = [m if isinstance(m, Model) else load(m) for m in models]
    if (weights is None) == (tune_on is None):
        raise OptionError("give --weights or --tune-on (one of them)")
    sources = [getattr(m, "path", None) for m in loaded]
    components = [m.saved.model for m in loaded]
    if tune_on is not None:
        from bigram.training.interpolate import tune_weights

        sources_of_data = _sources(tune_on)
        if len(sources_of_data) != 1:
            raise InputError("tune_on reads one path (or one list of items)")
        tuning = tune_weights(components, sources_of_data[0], encoding_errors)
        weights = tuning.weights
    model = InterpolatedModel(components, weights, [s or "<in memory>" for s in sources])
    saved = SavedModel(model, {}, interpolation_meta(model), None)
    result = Model(saved)
    if tune_on is not None:
        result.tuning = tuning
    return result


# ---------------------------------------------------------------------- the model


class Model:
    """A trained model and what it was trained on; returned by `train` and `load`."""

    def __init__(self, saved, reports=None):
        self._saved = saved
        self._reports = reports
        self._tokens = None
        self._sentence_scorer = None
        self.path = None            # the file it was loaded from, if any
        self.tuning = None          # interpolate(tune_on=...): training.interpolate.Tuning

    def __repr__(self):
        from bigram.models.language_models import order_name

        return (f"<bigram.Model: {self.kind} {order_name(self.order)}, "
                f"{len(self.vocabulary):,} {self.unit} tokens, "
                f"{self._saved.model.describe()}>")

    # ------------------------------------------------------------------ properties

    @property
    def saved(self):
        """The underlying bigram.formats.saved.SavedModel, for the library's other functions."""
        return self._saved

    @property
    def kind(self) -> str:
        """"counts", "neural", or "arpa" (a model read from an ARPA file)."""
        return self._saved.model.kind

    @property
    def order(self) -> int:
        """Context length + 1: 2 for a bigram model."""
        return self._saved.model.order

    @property
    def unit(self) -> str:
        """What a token is: "char" or "word"."""
        return self._saved.vocabulary.unit

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every token in id order: the boundary ('.' for characters, '</s>' for words)
        first, then '<unk>' if the model has it, then the tokens seen, sorted."""
        if self._tokens is None:
            vocabulary = self._saved.vocabulary
            head = tuple(vocabulary.token(i) for i in range(vocabulary.first))
            self._tokens = head + tuple(vocabulary.tokens)
        return self._tokens

    @property
    def settings(self) -> dict:
        """The model's hyperparameters (smoothing method and strength; or steps, lr, reg,
        seed), a copy."""
        import copy

        return copy.deepcopy(self._saved.model.hyperparameters())

    @property
    def reports(self) -> dict:
        """The loss on each split the model holds ({"train": Report, ...}; empty for ARPA)."""
        if self._reports is None:
            from bigram.models.evaluation import evaluate_splits

            self._reports = {r.name: r for r in evaluate_splits(self._saved)}
        return dict(self._reports)

    def info(self) -> dict:
        """The model file's metadata, as `bigram info --json` prints it."""
        meta = dict(self._saved.meta)
        vocabulary = self._saved.vocabulary
        meta["vocabulary"] = list(vocabulary.tokens)   # a list for every unit
        meta.update(self._saved.model.estimated_settings())
        return meta

    # ------------------------------------------------------------------ scoring

    def score_item(self, item: str, oov: str = "skip"):
        """The lecture's walk through one item, as `bigram score` shows it: an ItemScore with
        each n-gram's (label, probability, ln probability) and the item's totals.

        Tokens outside the vocabulary of a model without <unk> are left out with the
        n-grams touching them (oov="skip"), or raise InputError (oov="error").
        """
        from bigram.models.evaluation import OOV_POLICIES, score_item

        if not isinstance(item, str):
            raise InputError(f"an item is a string, not {type(item).__name__}")
        if oov not in OOV_POLICIES:
            raise OptionError(f"--oov must be skip or error, not {oov!r}")
        return score_item(self._saved.model, item, oov)

    def logprob(self, item: str, oov: str = "skip") -> float:
        """ln P(item): the natural log of the item's probability, boundaries included."""
        return self.score_item(item, oov).log_likelihood

    def logprobs(self, item: str, oov: str = "skip") -> list[tuple[str, float]]:
        """(n-gram, ln P) of every predicted token of the item, as `bigram score` lists them."""
        return [(ngram, logprob) for ngram, _, logprob in self.score_item(item, oov).ngrams]

    # ------------------------------------------------------------------ kenlm's calls

    @property
    def _sentences(self):
        """The per-sentence scorer (models.sentences), made on first use."""
        if self._sentence_scorer is None:
            from bigram.models.sentences import SentenceScorer

            self._sentence_scorer = SentenceScorer(self._saved.model)
        return self._sentence_scorer

    def score(self, sentence: str, bos: bool = True, eos: bool = True) -> float:
        """log10 P(sentence), as kenlm.Model.score: `bos` starts it after `<s>`, `eos` ends
        it with `</s>`. A word model's sentence is split on whitespace; a character
        model's is its characters. One call is one small walk over the sentence; for
        many lines, `score_lines` (or `bigram score --file`) is the fast path and gives
        the same numbers."""
        # (The scorer read as an attribute once made: a property costs here, per call.)
        return (self._sentence_scorer or self._sentences).score(sentence, bos, eos)

    def perplexity(self, sentence: str) -> float:
        """10 ** (-score(sentence) / tokens), `</s>` counted, as kenlm.Model.perplexity."""
        return (self._sentence_scorer or self._sentences).perplexity(sentence)

    def full_scores(self, sentence: str, bos: bool = True,
                    eos: bool = True) -> Iterator[tuple[float, int, bool]]:
        """(log10 P, n-gram length, oov) of each token of the sentence (`</s>` last when
        `eos`), as kenlm.Model.full_scores yields them."""
        return zip(*self._sentences.full_scores(sentence, bos, eos))

    def __contains__(self, word: str) -> bool:
        """Whether the model gives `word` a probability of its own (`<s>` and `</s>`
        always; `<unk>` and pruned words never), as `word in kenlm.Model`."""
        return isinstance(word, str) and self._sentences.contains(word)

    def BeginSentenceWrite(self, state) -> None:
        """Set a bigram.State to the start of a sentence (after `<s>`)."""
        self._sentences.begin_sentence(state)

    def NullContextWrite(self, state) -> None:
        """Set a bigram.State to no context (back-off models only)."""
        self._sentences.null_context(state)

    def BaseScore(self, in_state, word: str, out_state) -> float:
        """log10 P(word | in_state), and out_state set to the state after `word` (`</s>`
        ends the sentence), as kenlm.Model.BaseScore."""
        return self._sentences.base_score(in_state, word, out_state)

    def score_lines(self, lines: Iterable[str], oov: str = "skip") -> Iterator:
        """A scoring.LineScore (item, logprob, log10prob, tokens, oov, perplexity) for each
        string of `lines` (a list, or an open text file), lazily, in batches; each string
        is one item, as `bigram score --file` reads lines. The fast path for many lines:
        blocks of them are scored at once (same numbers as `score`, one line at a time)."""
        from bigram.models.scoring import score_lines

        return score_lines(self._saved.model, lines, oov)

    def evaluate(self, data: Data, oov: str = "skip", encoding_errors: str = "strict"):
        """The loss on `data` (items, or one path as `bigram eval FILE` reads it): a Report
        with nll (nats per token), bits_per_token, perplexity, tokens, items and oov."""
        from bigram.models.evaluation import evaluate_text_sources

        if data is None:
            raise InputError("evaluate needs data: a list of items or a path (the splits the "
                             "model holds are in Model.reports)")
        sources = _sources(data)
        if len(sources) != 1:
            raise InputError("evaluate reads one path (or one list of items) at a time")
        return evaluate_text_sources(self._saved.model, sources[0], oov, encoding_errors)

    # ------------------------------------------------------------------ sampling

    def sample_batches(self, n: int = 10, seed: int | None = None, temperature: float = 1.0,
                       prefix: str = "", max_len: int = 100,
                       novel: bool = False) -> Iterator:
        """`sample`'s items in batches (sampling.ItemBatch: `.items()` as strings, `.lines()`
        as UTF-8 bytes, `.cut`), drawn as they are consumed; memory stays flat for any n."""
        from bigram.models.sampling import stream_items
        from bigram.tensor.random import Generator

        exclude = self._check_sampling(n, temperature, prefix, max_len, novel, seed)
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
        generator = Generator().manual_seed(seed)
        return stream_items(self._saved.model, n, generator, temperature, prefix, max_len,
                            exclude)

    def sample(self, n: int = 10, seed: int | None = None, temperature: float = 1.0,
               prefix: str = "", max_len: int = 100, novel: bool = False) -> list[str]:
        """n items drawn from the model, the same as `bigram sample -n N --seed SEED` prints.

        `temperature` below 1 sharpens the distribution, above 1 flattens it; every
        item starts with `prefix`; items are cut at `max_len` tokens; `novel` keeps
        only items absent from the training data.
        """
        from bigram.models.sampling import whole_items

        return whole_items(self.sample_batches(n, seed, temperature, prefix, max_len, novel))

    def _check_sampling(self, n, temperature, prefix, max_len, novel, seed=None):
        """Refuse bad sampling options; the training items to avoid when `novel`."""
        check_sampling_options(n, temperature, max_len, seed)
        if prefix:
            vocabulary = self._saved.vocabulary
            what = "words" if vocabulary.unit == "word" else "characters"
            try:
                tokens = vocabulary.encode_text(prefix)
            except KeyError as error:
                missing = " ".join(repr(c) for c in error.args[0])
                raise OptionError(f"--prefix {prefix!r} has {what} the model has never seen: "
                                  f"{missing}") from None
            if len(tokens) >= max_len:
                raise OptionError(f"--prefix is {len(tokens)} {what}, not shorter than "
                                  f"--max-len {max_len}")
        if not novel:
            return None
        exclude = self._saved.training_items()
        if exclude is None:
            raise BigramError("this model file does not keep its training items (there were "
                              "too many), so --novel cannot check samples against them")
        return exclude

    # ------------------------------------------------------------------ writing

    def save(self, path: PathLike, force: bool = False) -> bool:
        """Write the model file (atomically); True if it replaced one. An existing file
        that is not a model file is kept, and OptionError raised, unless `force`."""
        from bigram.formats.modelfile import save

        _check_output(path, "model", force)
        return save(path, self._saved)

    def export_arpa(self, path: PathLike, force: bool = False) -> dict[int, int]:
        """Write the model as an ARPA back-off file (as `bigram export`; '-' is standard
        output); returns the number of n-grams of each order. An existing non-ARPA file is
        kept unless `force`.

        An interpolated model is written as SRILM's `-mix-lm -write-lm` writes one
        (formats.arpa_mixture): an approximation, equal to the mixture on every n-gram
        it lists, backing off as one model elsewhere."""
        from bigram.formats.arpa_writer import arpa_lines, write

        _check_output(path, "arpa", force)
        lines = arpa_lines
        if self.kind == "interpolated":
            from bigram.formats.arpa_mixture import mixture_arpa_lines as lines
        return write(self._saved.model, Path(path), lines)


def check_sampling_options(n, temperature, max_len, seed=None):
    """Refuse a count, temperature, length limit or seed no sampling can use (before a model
    is read)."""
    from bigram.limits import MAX_COUNT, MAX_LENGTH, TEMPERATURE_RANGE, check_seed

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise OptionError(f"--count must be 0 or more, not {n}")
    if n > MAX_COUNT:
        raise OptionError(f"--count must be at most 2^63-1, not {n}")
    if not temperature > 0 or temperature == float("inf"):
        raise OptionError(f"--temperature must be a positive number, not {temperature}")
    low, high = TEMPERATURE_RANGE
    if not low <= temperature <= high:
        raise OptionError(f"--temperature must be from {low:g} to {high:g} (beyond, sampling is "
                          f"greedy or uniform to float precision), not {temperature}")
    if max_len < 1:
        raise OptionError(f"--max-len must be at least 1, not {max_len}")
    if max_len > MAX_LENGTH:
        raise OptionError(f"--max-len must be at most {MAX_LENGTH:,}, not {max_len}")
    if seed is not None:
        check_seed(seed)


def _check_output(path, kind, force):
    """Refuse to replace a file that is not of the kind being written (files.check_output)."""
    from bigram.formats.files import check_output

    try:
        check_output(Path(path), kind, (), force)
    except BigramError as error:
        raise OptionError(cli_message(error)) from None
