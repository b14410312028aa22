"""`python -m bigram` is the same program as the `bigram` command."""

from bigram.cli.app import main

# Guarded: worker processes of `--dask local` start by importing this module again.
if __name__ == "__main__":
    main()
