"""The standard streams as the commands need them: UTF-8 output whatever the locale says,
a closed pipe that ends the command quietly, and a console that reports one.
"""

import codecs
import os
import sys

UNICODE_ENCODINGS = ("utf-8", "utf-16", "utf-32", "gb18030")


def utf8_output():
    """Write stdout as UTF-8 when its encoding cannot hold every character
    (PYTHONIOENCODING=ascii, a latin-1 locale): the items and tokens are Unicode, and
    `sample` and `score --file` write UTF-8 bytes already; one encoding for every command
    beats an error halfway through a table."""
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None)
    if not encoding or not hasattr(stream, "reconfigure"):
        return
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding
    if name not in UNICODE_ENCODINGS:
        try:
            stream.reconfigure(encoding="utf-8")
        except (ValueError, OSError):   # already written to: leave it
            pass


def quiet_broken_pipe():
    """After the reader of stdout went away (`bigram score ... | head -1`): point stdout
    at /dev/null, so that the interpreter's last flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open until the process ends


def console(**options):
    """A rich Console, except that a closed pipe raises BrokenPipeError (which main() turns
    into a quiet exit 0, as `sample | head` ends) instead of rich's exit code 1. (rich is
    imported here, not at the top: `bigram --help` starts without it.)"""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self):
            self.quiet = True
            raise BrokenPipeError

    return _Console(**options)
