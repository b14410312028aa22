"""`torch.nn` as far as the notes reach: `torch.nn.functional`."""

from . import functional

__all__ = ["functional"]
