"""The `bigram` command: `app` (typer commands, each a thin call into the library, and the
one place where errors become `error: ...` lines), `render` (rich tables), `pictures`
(matplotlib PNGs and the terminal grid). The only part that imports rich and typer."""
