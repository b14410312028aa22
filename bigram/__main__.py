"""`python -m bigram` is the same program as the `bigram` command."""

from .cli import main

main()
