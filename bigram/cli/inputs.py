"""Where a command's text comes from when no FILE is given: text piped to stdin is read.

KenLM's `lmplz < corpus` and `query model < text` read standard input; so do `bigram
train`, `tune`, `eval` and `score` when they are given no FILE and stdin is not a
terminal and holds some text. A terminal, /dev/null or an empty pipe carries nothing,
and the command keeps its default (names.txt, the model's stored splits).
"""

import sys

from bigram.errors import OptionError

STDIN = "-"


def stdin_has_text():
    """Whether stdin is not a terminal and has at least one byte to read.

    The byte is peeked at, not consumed: whoever reads stdin next gets all of it. A pipe
    whose writer has not written yet is waited for, as `query < fifo` waits.
    """
    stream = sys.stdin
    try:
        if stream is None or stream.isatty():
            return False
        return bool(stream.buffer.peek(1))
    except (AttributeError, OSError, ValueError):   # closed, or text held in memory
        return False


def files_or_stdin(files):
    """The FILE arguments as given; when there are none and text is piped, stdin ('-')."""
    if files:
        return list(files)
    return [STDIN] if stdin_has_text() else files


def items_or_stdin(items, encoding_errors="strict"):
    """`bigram score`'s ITEMS: as given; the lines of stdin for a lone '-', or when none
    are given and text is piped (each stripped line one item, blank lines skipped)."""
    if items and STDIN not in items:
        return list(items)
    if items and len(items) > 1:
        raise OptionError("'-' (stdin) is an item list of its own: give items, or '-' alone, "
                          "or score files with --file FILE... (--file - for stdin)")
    if not items and not stdin_has_text():
        return items
    from bigram.text.sources import read_items

    return read_items([STDIN], encoding_errors)
