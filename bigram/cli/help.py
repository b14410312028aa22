"""Help texts shown as written: square brackets are text, not rich markup.

The app's help is drawn by rich with markup on, so `[default: one per core]` or
`pip install 'bigram[dask]'` would be read as markup tags and vanish. Every option and
argument help of every command is escaped once, after the commands are defined, so the
help says exactly what the source says.
"""

import typing

from rich.markup import escape


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
