"""Help texts shown as written: square brackets are text, not rich markup.

The app's help is drawn by rich with markup on, so `[default: one per core]` or
`pip install 'bigram[dask]'` would be read as markup tags and vanish. Every option and
argument help of every command is escaped once, after the commands are defined, so the
help says exactly what the source says.
"""

import re
import typing

# What rich reads as a markup tag: `[` then a letter, `#`, `/` or `@`, up to the next `]`;
# a backslash before the `[` makes it text (backslashes already there are doubled).
# Written here rather than imported from rich.markup, which would cost every command's
# start-up the import of rich.
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text):
    """`text` with every would-be rich tag escaped, so rich prints it as written."""
    return _TAG.sub(lambda match: f"{match[1]}{match[1]}\\{match[2]}", text)


def parameter_infos(app):
    """(command name, typer ParameterInfo) for every option and argument of the app's
    commands, as declared in their `Annotated` hints (one info may serve several commands)."""
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        hints = typing.get_type_hints(command.callback, include_extras=True)
        for hint in hints.values():
            for extra in getattr(hint, "__metadata__", ()):
                if hasattr(extra, "help") and hasattr(extra, "param_decls"):
                    yield name, extra


def literal_help(app):
    """Escape the square brackets of every parameter's help, each info once."""
    done = set()
    for _, info in parameter_infos(app):
        if id(info) not in done and info.help:
            info.help = escape(info.help)
            done.add(id(info))
