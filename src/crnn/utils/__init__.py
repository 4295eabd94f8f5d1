"""Utilities, as torch.nn.utils: ``crnn.utils.rnn`` for packed batches,
``clip_grad_norm_``."""
from . import rnn
from .clip import clip_grad_norm_

__all__ = ["rnn", "clip_grad_norm_"]
