"""bigram: character-level bigram language models on a small PyTorch-compatible engine.

The library: `bigram.tensor` (the engine), `dataset` (reading and splitting
text), `models` (count and neural models), `sampling`, `evaluation` and
`modelfile`; `cli` is the command-line program over them.
"""

__version__ = "0.1.0"
