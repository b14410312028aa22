"""The toolkit's error types. The CLI turns each into one line, `error: <message>`."""


class BigramError(Exception):
    """A problem the user can fix: bad input, bad option, missing or damaged file."""

    exit_code = 1


class InputError(BigramError):
    """Training or evaluation text that cannot be read as one item per line."""


class ModelFileError(BigramError):
    """A model file that is missing, damaged, foreign or from a newer version."""


class OptionError(BigramError):
    """An option value outside what the command accepts."""

    exit_code = 2


class TrainingDiverged(BigramError):
    """Gradient descent produced a NaN or infinite loss."""
