"""The toolkit's error types. The CLI turns each into one line, `error: <message>`.

A message is written once, in the command line's words (`--temperature must be a
positive number, not 0`). `str(error)` gives it in the Python API's words, each flag
replaced by the argument it stands for (`temperature must be a positive number, not
0`; `--model counts` becomes `model='counts'`, `--force` becomes `force=True`); the
CLI prints `error.cli_message`, which keeps the flags. Flags with no argument of the
same meaning in the API (`--threads`, `--output`, ...) stay as they are.
"""

import re

# Each flag of the command line and the keyword argument of the Python API it stands for.
FLAG_ARGUMENTS = {
    "--count": "n", "--temperature": "temperature", "--prefix": "prefix",
    "--max-len": "max_len", "--novel": "novel", "--seed": "seed", "--model": "model",
    "--order": "order", "--unit": "unit", "--smoothing-method": "method",
    "--smoothing": "smoothing", "--steps": "steps", "--lr": "lr", "--reg": "reg",
    "--split": "split", "--test-size": "test_size", "--split-seed": "split_seed",
    "--min-count": "min_count", "--max-vocab": "max_vocab", "--prune": "prune",
    "--discounts": "discounts", "--encoding-errors": "encoding_errors", "--oov": "oov",
    "--dask": "dask", "--dask-workers": "dask_workers", "--force": "force",
    "--weights": "weights",
}
# Flags that take no value: in Python, the argument set to True.
SWITCHES = {"--novel", "--force"}
# Values that, written after their flag, become a Python string argument.
CHOICES = {
    "--model": {"counts", "neural"}, "--oov": {"skip", "error"},
    "--unit": {"char", "word"}, "--dask": {"local"},
    "--smoothing-method": {"add-k", "witten-bell", "kneser-ney", "modified-kneser-ney"},
    "--encoding-errors": {"strict", "replace", "ignore", "surrogateescape"},
    "--split": {"makemore"},
}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*[a-z])(?: ([\w:/.-]*\w))?")
_SPLIT_VALUE = re.compile(r"(hash:)?\d+/\d+/\d+")


def python_wording(message):
    """A message in the command line's words, in the Python API's (see the module)."""
    def replace(match):
        flag, value = match.group(1), match.group(2)
        argument = FLAG_ARGUMENTS.get(flag)
        if argument is None:
            return match.group(0)
        if flag in SWITCHES:
            return f"{argument}=True" + (f" {value}" if value else "")
        if value is not None and (value in CHOICES.get(flag, ()) or
                                  (flag == "--split" and _SPLIT_VALUE.fullmatch(value))):
            return f"{argument}={value!r}"
        return argument + (f" {value}" if value else "")
    return _FLAG.sub(replace, message)


def cli_message(error):
    """An exception's message in the command line's words (any exception's str for others)."""
    return error.cli_message if isinstance(error, BigramError) else str(error)


class BigramError(Exception):
    """A problem the user can fix: bad input, bad option, missing or damaged file."""

    exit_code = 1

    @property
    def cli_message(self):
        """The message as the command line words it (naming flags)."""
        return super().__str__()

    def __str__(self):
        return python_wording(super().__str__())


class InputError(BigramError):
    """Training or evaluation text that cannot be read as one item per line."""


class ModelFileError(BigramError):
    """A model file that is missing, damaged, foreign or from a newer version."""


class OptionError(BigramError):
    """An option value outside what the command accepts."""

    exit_code = 2


class TrainingDiverged(BigramError):
    """Gradient descent produced a NaN or infinite loss."""
