"""Utilities, as torch.nn.utils: ``crnn.utils.rnn`` for packed batches."""
from . import rnn

__all__ = ["rnn"]
