"""Every `--help` says what the source says: each option's help text whole (hand-written
defaults such as `[default: $BIGRAM_MODEL or ./bigram.npz]` and `pip install
'bigram[dask]'` included), and the default of every option that shows one."""

import enum
import re

import pytest
import typer
from cli_child import bigram

from bigram.cli.app import app

COMMAND = typer.main.get_command(app)
WIDE = {"COLUMNS": "1000", "TERMINAL_WIDTH": "1000"}


def rendered_help(tmp_path, *command):
    """The help of `bigram COMMAND` as one line of words (borders and wrapping removed)."""
    done = bigram(*command, "--help", cwd=tmp_path, env=WIDE)
    assert done.returncode == 0, done.stderr
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stdout).split())


def source_text(text):
    """A help text as the source writes it, markup escapes undone, as one line of words."""
    return " ".join(text.replace("\\[", "[").split())


def shown_default(parameter):
    """The `[default: ...]` click adds for an option that shows its default, or None."""
    if not parameter.show_default or parameter.default in (None, "") or getattr(
            parameter, "is_flag", False):   # (click shows no empty default)
        return None
    value = parameter.default
    if isinstance(value, enum.Enum):
        value = value.value
    return f"[default: {value}]"


@pytest.mark.parametrize("name", sorted(COMMAND.commands))
def test_help_shows_every_help_text_and_default(tmp_path, name):
    shown = rendered_help(tmp_path, name)
    command = COMMAND.commands[name]
    assert source_text(command.help.split("\n\n")[0]) in shown
    for parameter in command.params:
        if parameter.name == "help":
            continue
        if parameter.help:
            assert source_text(parameter.help) in shown, parameter.name
        default = shown_default(parameter)
        if default:
            assert default in shown, parameter.name


def test_hand_written_defaults_survive(tmp_path):
    assert "Model file to read [default: $BIGRAM_MODEL or ./bigram.npz]." in rendered_help(
        tmp_path, "eval")
    train = rendered_help(tmp_path, "train")
    for text in ("Where to write the model [default: $BIGRAM_MODEL or ./bigram.npz].",
                 "[default: min(1000, 10%)]", "pip install 'bigram[dask]'",
                 "Worker processes of --dask local [default: one per core]."):
        assert text in train
    assert "[default: the shards' common value]" in rendered_help(tmp_path, "merge")
    assert "[default: one per core, at most 4; at most the cores unless --oversubscribe]" \
        in rendered_help(tmp_path, "score")


def test_help_speaks_of_words_as_well_as_characters(tmp_path):
    top = rendered_help(tmp_path)
    assert "characters or words" in top and "Character-level" not in top
    sample = rendered_help(tmp_path, "sample")
    assert "Cut items at this many tokens (characters, or words for a word model)." in sample
