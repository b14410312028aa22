"""Counting on a Dask cluster (`bigram train --dask`): byte ranges of the input counted by
workers and merged into the same counts as one process (`dask_counting`)."""
