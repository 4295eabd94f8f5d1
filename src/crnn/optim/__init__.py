"""Optimizers with torch's update rules and defaults, over crnn parameters,
laid out as ``torch.optim``: the optimizers (``crnn.optim.SGD``, ``Adam``,
``AdamW``, their base ``Optimizer``) and the learning-rate schedules
(``crnn.optim.lr_scheduler``).

Parameters are grouped by the flat buffer they live in: when a module's
parameters all take part, the update runs on its whole flat parameter and
gradient arrays at once.
"""
from . import lr_scheduler  # noqa: F401  (torch's spelling: crnn.optim.lr_scheduler)
from .optimizer import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
