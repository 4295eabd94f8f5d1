"""The two modes of crnn's products, torch's names for them.

Default: the products over whole sequences (every step's input projection
before the time loop; dX, dW_ih, dW_hh and dW_hr after backward's loop) go
to SciPy's OpenBLAS, whose sums change order with the number of rows and
with its kernels; the time loop runs on crnn's own kernels (on CPUs
without them, BLAS takes its products too where that measures faster).

Deterministic (``use_deterministic_algorithms(True)``, the environment
variable ``CRNN_DETERMINISTIC=1`` read at import, or ``with
crnn.deterministic():``): every product on crnn's own kernels, each
element one chain of multiply-adds in a fixed order, so a sequence's
outputs and gradients are the same bits whatever its batch, packing,
chunking, thread count or concurrent callers (docs/guide/guarantees.rst).

The mode is the process's (as torch's is); a call runs in the mode in
force when it starts.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

from . import _kernels

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
_lock = threading.Lock()


def use_deterministic_algorithms(mode: bool) -> None:
    """Run every product on crnn's own fixed-order kernels (True) or let
    the products over whole sequences go to BLAS (False, the default), as
    ``torch.use_deterministic_algorithms``."""
    if not isinstance(mode, bool):
        raise TypeError(f"mode: expected a bool, got {type(mode).__name__}")
    _kernels.set_deterministic(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether the deterministic mode is on (torch's name)."""
    return _kernels.is_deterministic()


@contextlib.contextmanager
def deterministic(mode: bool = True) -> Iterator[None]:
    """The deterministic mode on (or off, ``mode=False``) inside the block,
    the mode before it restored after::

        with crnn.deterministic():
            out, h_n = lstm(x)      # the same bits however x is batched

    The mode is the process's: other threads' calls that start meanwhile
    run in it too."""
    if not isinstance(mode, bool):
        raise TypeError(f"mode: expected a bool, got {type(mode).__name__}")
    with _lock:
        before = _kernels.is_deterministic()
        _kernels.set_deterministic(mode)
    try:
        yield
    finally:
        _kernels.set_deterministic(before)


def _from_environment() -> None:
    value = os.environ.get("CRNN_DETERMINISTIC", "").strip().lower()
    if value in _TRUE:
        _kernels.set_deterministic(True)
    elif value not in _FALSE:
        raise ValueError(f"CRNN_DETERMINISTIC: expected 1 or 0, got "
                         f"{os.environ['CRNN_DETERMINISTIC']!r}")


_from_environment()
