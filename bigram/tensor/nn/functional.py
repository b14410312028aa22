"""`torch.nn.functional`: the same functions as `bigram.tensor.functional`."""

from ..functional import (
                          cross_entropy,
                          log_softmax,
                          nll_loss,
                          one_hot,
                          relu,
                          sigmoid,
                          softmax,
                          tanh,
)

__all__ = ["cross_entropy", "log_softmax", "nll_loss", "one_hot", "relu", "sigmoid", "softmax",
           "tanh"]
