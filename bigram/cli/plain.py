"""Printing rich tables to stdout: drawn for a terminal, plain and complete for anything else.

In a pipe, a file or a log there is no terminal width to fit: rich would assume 80
columns and cut long cells (file names, sha256, the `--discounts` value) with an
ellipsis, and pad every line with spaces. There the same renderable is laid out as wide
as its content needs, lines keep no trailing spaces, and the lines that only pad a
table are left out.
"""

import io
import sys

WIDE = 1 << 16   # columns: wider than any line the toolkit prints


def _console(**options):
    from rich.console import Console

    # No markup or emoji codes: names and paths are printed as they are ("[x]", ":a:").
    return Console(highlight=False, markup=False, emoji=False, **options)


def plain_text(renderable):
    """The renderable as plain text: nothing cut, no trailing spaces, no padding lines."""
    buffer = io.StringIO()
    _console(file=buffer, width=WIDE, color_system=None, force_terminal=False,
             soft_wrap=False).print(renderable)
    # A line of spaces only pads a table (its top or bottom edge); an empty line is meant.
    lines = [line.rstrip() for line in buffer.getvalue().split("\n")
             if not (line and line.isspace())]
    return "\n".join(lines)


def show(renderable):
    """Print to stdout: drawn to the terminal's width there, else `plain_text`."""
    console = _console()
    if console.is_terminal:
        console.print(renderable)
        return
    sys.stdout.write(plain_text(renderable))
    sys.stdout.flush()
