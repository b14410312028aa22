"""Read the examples out of README.md and docs/*.md, and run them as a reader would.

A fenced block is an example when it is a console session (```console: lines
`$ command`, each followed by what the command prints) or a Python session
(```pycon, or ```python with `>>>` prompts: a doctest). Every example is run by
tests/test_readme.py unless the line just above its fence says why not:

    <!-- not run: needs a Dask cluster -->

Console sessions run in bash, in one fresh folder per document (blocks in
document order, so a later block sees the files an earlier one wrote), where
`bigram` and `python` run this checkout's code and `data/`, `scripts/`, `tests/`
and `docs/` of the repository are linked. What an example shows is compared with
what the command printed as a sequence of words: runs of spaces and line breaks
count as one space and table rules (lines of box-drawing characters) are left
out, so padding and where a long line wraps do not count; every word and number
does, in order. `...` stands
for any text (within a line, or whole lines). The comparison is with stdout, or
with stdout followed by stderr when the example shows a line of stderr; a command
that fails must show its `error:` line.
"""

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\S*)(.*)$")
NOT_RUN = re.compile(r"^<!-- not run: (\S.*?) -->$")
RULE = re.compile(r"^[\s─━═│┃┄┈╌-]*$")
LINKED = ("data", "scripts", "tests", "docs", "notebooks")


@dataclass
class Block:
    """One fenced block of a markdown document."""

    path: Path
    line: int           # 1-based line number of the opening fence
    language: str
    text: str
    not_run: str = ""   # the reason given in the marker above the fence, if any

    @property
    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_console(self):
        return any(line.startswith("$ ") for line in self.text.splitlines())

    @property
    def is_doctest(self):
        return any(line.lstrip().startswith(">>>") for line in self.text.splitlines())


@dataclass
class Command:
    """One `$ command` of a console block and the output shown after it."""

    block: Block
    command: str
    expected: list = field(default_factory=list)


def documents():
    """README.md and every guide in docs/, in a stable order."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def blocks(path):
    """Every fenced block of one markdown file, with its not-run marker if it has one."""
    lines = Path(path).read_text().splitlines()
    found, k = [], 0
    while k < len(lines):
        opening = FENCE.match(lines[k])
        if not opening:
            k += 1
            continue
        end = lines.index("```", k + 1)
        marker = NOT_RUN.match(lines[k - 1]) if k else None
        found.append(Block(Path(path), k + 1, opening.group(1),
                           "\n".join(lines[k + 1:end]) + "\n", marker.group(1) if marker else ""))
        k = end + 1
    return found


def unrun_examples(path):
    """Blocks that hold a session (`$ ` or `>>>` lines) no runner picks up and no marker excuses."""
    return [b.where for b in blocks(path)
            if not b.not_run and ((b.is_console and b.language != "console")
                                  or (b.is_doctest and b.language not in ("pycon", "python")))]


def console_commands(path):
    """The commands of the console blocks that are run, in document order."""
    commands = []
    for block in blocks(path):
        if block.language != "console" or block.not_run:
            continue
        lines = block.text.splitlines()
        k = 0
        while k < len(lines):
            if not lines[k].startswith("$ "):
                raise AssertionError(f"{block.where}: output before the first `$ ` command")
            command = lines[k][2:]
            while command.endswith("\\"):   # a command continued on the next line
                k += 1
                command = command[:-1] + "\n" + lines[k]
            k += 1
            expected = []
            while k < len(lines) and not lines[k].startswith("$ "):
                expected.append(lines[k])
                k += 1
            commands.append(Command(block, command, expected))
    return commands


def doctest_blocks(path):
    """The Python examples of one document that are run: pycon blocks, python blocks."""
    return [b for b in blocks(path) if b.language in ("pycon", "python") and not b.not_run]


def sandbox(folder):
    """A folder laid out like a checkout, with `bigram` and `python` running this code."""
    folder = Path(folder)
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, runs in (("bigram", f'"{sys.executable}" -m bigram'),
                       ("python", f'"{sys.executable}"')):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {runs} "$@"\n')
        script.chmod(0o755)
    for name in LINKED:
        if (ROOT / name).exists():
            (folder / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIGRAM_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT),
               COLUMNS="80", LC_ALL="C.UTF-8")
    return env


def normalised(text):
    """The words of the text in order, one space apart; table rules dropped (so neither
    padding nor where a long line was wrapped counts)."""
    return " ".join(word for line in text.splitlines() if not RULE.match(line)
                    for word in line.split())


def shows(expected, actual):
    """Whether `actual` is what the example shows, `...` standing for any text."""
    parts = re.split(r"\s*\.\.\.\s*", normalised(expected))
    pattern = ".*?".join(re.escape(part) for part in parts)
    return re.fullmatch(pattern, normalised(actual), re.DOTALL) is not None


def run_command(command, folder, env, timeout=600):
    """Run one example command in bash; returns (exit code, stdout, stderr)."""
    # stdin is empty, never the test runner's own: a command reads only what its line pipes in
    done = subprocess.run(["bash", "-c", command.command], check=False, cwd=folder, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def check_command(command, folder, env):
    """Run one example and return a description of the mismatch, or '' if it printed as shown."""
    code, out, err = run_command(command, folder, env)
    expected = "\n".join(command.expected)
    shown = normalised(expected)
    shown_err = [line for line in map(normalised, err.splitlines()) if line and f" {line} " in f" {shown} "]
    actual = out + ("\n" + err if shown_err else "")
    failed_unshown = code != 0 and not shown_err
    if shows(expected, actual) and not failed_unshown:
        return ""
    return (f"{command.block.where}: $ {command.command}\n--- shown:\n{expected}\n"
            f"--- printed (exit {code}):\n{out}\n--- stderr:\n{err}")


def run_doctests(path, folder):
    """Run a document's Python examples in `folder` as one session (later blocks see the
    names earlier ones defined); returns (failures, tries)."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    names = {}
    sandbox(folder)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        for block in doctest_blocks(path):
            test = parser.get_doctest(block.text, names, block.where, str(path), block.line)
            runner.run(test, clear_globs=False)
            names = test.globs   # DocTest copies the names it is given; carry its own on
    finally:
        os.chdir(previous)
    return runner.failures, runner.tries
