"""bigram: n-gram language models of characters or words, from Python or the command line.

    >>> import bigram
    >>> model = bigram.train(order=2)            # the bundled names.txt, add-k with k 1
    >>> model.sample(3, seed=2147483647)
    ['mor', 'axx', 'minaymoryles']

The API (the `bigram` command is built on it, so both give the same numbers):

    train(data, model="counts", order=2, unit="char", method="add-k", smoothing=None, ...)
        a Model trained on items (a list of strings) or a path (or list of paths)
    load(path)                  a Model from a model file or an ARPA file
    interpolate([a, b], weights=[0.7, 0.3] | tune_on=dev)   their linear mixture, a Model
    split(items, "makemore")    the command line's makemore or 80/10/10 split of items
    Model                       .logprob(item), .logprobs(item), .score_item(item),
                                .score_lines(lines), .evaluate(items) -> Report,
                                kenlm's .score(sentence, bos, eos) (log10),
                                .perplexity(s), .full_scores(s), `word in model`,
                                .BeginSentenceWrite/.NullContextWrite/.BaseScore
    State                       kenlm's state for Model.BaseScore
                                .reports, .sample(n, seed),
                                .sample_batches(n, seed), .save(path), .export_arpa(path),
                                .info(), .order, .unit, .vocabulary, .settings
    Report                      nll, bits_per_token, perplexity, tokens, items, oov
    BigramError                 every error, with InputError, ModelFileError, OptionError

The library underneath, in parts that import only the parts before them: `tensor` (a
PyTorch-compatible engine), `text` (reading, vocabularies, splits), `ngrams` (counting
and estimation), `cluster` (counting on Dask), `models` (the models, sampling,
evaluation, scoring), `formats` (model files, ARPA), `training` (train, tune, merge);
`settings` is one run's options, `api` this page's calls, and `cli` the command.
"""

from typing import TYPE_CHECKING

from bigram.errors import BigramError, InputError, ModelFileError, OptionError
from bigram.version import __version__  # noqa: F401  (bigram.__version__)

__all__ = ["BigramError", "InputError", "ItemScore", "Model", "ModelFileError", "OptionError",
           "Report", "State", "interpolate", "load", "split", "train"]

# Imported on first use: `import bigram` (and the CLI's start-up) stays free of numpy.
_LAZY = {"train": "api", "load": "api", "split": "api", "Model": "api", "interpolate": "api",
         "Report": "models.evaluation", "ItemScore": "models.evaluation",
         "State": "models.sentences"}

if TYPE_CHECKING:
    from bigram.api import Model, interpolate, load, split, train
    from bigram.models.evaluation import ItemScore, Report
    from bigram.models.sentences import State


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'bigram' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"bigram.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
