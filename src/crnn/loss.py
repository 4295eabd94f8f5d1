"""Losses with torch's definitions: ``loss = crit(input, target)`` returns a
float; ``crit.backward()`` returns d loss / d input."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._validate import as_array, check_choice

_REDUCTIONS = ("mean", "sum")


class _Loss:
    """``loss = crit(input, target)``; ``crit.backward()`` once after it."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)
        self._saved: Any = None

    def __call__(self, input: ArrayLike, target: ArrayLike) -> float:
        """``crit(input, target)`` is ``crit.forward(input, target)``."""
        return self.forward(input, target)

    def forward(self, input: ArrayLike, target: ArrayLike) -> float:  # pragma: no cover
        """The loss, a Python float; keeps what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self) -> np.ndarray:  # pragma: no cover
        """d loss / d input, after a forward (which it consumes)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        """The arguments that differ from the defaults, as torch shows them."""
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    @staticmethod
    def _input(input):
        """The input as a float array (its own float dtype kept)."""
        x = np.asarray(input)
        return as_array(x, x.dtype if x.dtype.kind == "f" else np.float64, "input")

    def _take_saved(self):
        if self._saved is None:
            raise RuntimeError("backward: expected a preceding forward")
        saved, self._saved = self._saved, None
        return saved


class MSELoss(_Loss):
    """Mean squared error, as torch.nn.MSELoss.

    ``loss = crit(input, target)`` is the mean (or sum) of ``(input -
    target) ** 2`` over every element, a Python float; ``crit.backward()``
    (no argument) then returns d loss / d input.

    Parameters
    ----------
    reduction : {"mean", "sum"}, default "mean"
        Mean or sum over the elements.
    """

    def forward(self, input: ArrayLike, target: ArrayLike) -> float:
        """Mean (or sum) of ``(input - target) ** 2``; shapes must be equal."""
        x = self._input(input)
        t = as_array(target, x.dtype, "target")
        if t.shape != x.shape:
            raise ValueError(f"target: expected the input's shape {x.shape}, got {t.shape}")
        d = x - t
        self._saved = d
        s = float((d * d).sum())
        if self.reduction == "mean":
            return s / d.size if d.size else float("nan")   # torch: mean of nothing
        return s

    def backward(self) -> np.ndarray:
        """``2 (input - target)`` (divided by the count for 'mean')."""
        d = self._take_saved()
        scale = 2.0 / max(d.size, 1) if self.reduction == "mean" else 2.0
        return (d * scale).astype(d.dtype, copy=False)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy, as torch.nn.CrossEntropyLoss.

    ``loss = crit(logits, target)`` with logits (N, C) (or (C,)) and integer
    class targets (N,) (or a scalar), a Python float; ``crit.backward()``
    (no argument) then returns d loss / d logits.

    Parameters
    ----------
    reduction : {"mean", "sum"}, default "mean"
        Mean over the targets not equal to ``ignore_index``, or sum.
    ignore_index : int, default -100
        A target value that contributes nothing.
    """

    def __init__(self, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self.ignore_index = int(ignore_index)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.ignore_index != -100:
            s += (", " if s else "") + f"ignore_index={self.ignore_index}"
        return s

    def forward(self, input: ArrayLike, target: ArrayLike) -> float:
        """Cross-entropy of the logits ``input`` against class indices."""
        x = self._input(input)
        if x.ndim not in (1, 2):
            raise ValueError(f"input: expected logits (N, C) or (C,), got shape {x.shape}")
        t = np.asarray(target)
        if t.dtype.kind not in "iu":
            raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
        unbatched = x.ndim == 1
        if unbatched:
            x, t = x[None], t.reshape(1) if t.ndim == 0 else t
        N, C = x.shape
        if t.shape != (N,):
            raise ValueError(f"target: expected shape {(N,) if not unbatched else ()}, "
                             f"got {np.shape(target)}")
        keep = t != self.ignore_index
        bad = keep & ((t < 0) | (t >= C))
        if bad.any():
            raise ValueError(f"target: class indices must be in [0, {C}) or ignore_index="
                             f"{self.ignore_index}, got {t[bad][0]}")
        z = x - x.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        tk = np.where(keep, t, 0)
        nll = -logp[np.arange(N), tk] * keep
        count = int(keep.sum())
        self._saved = (logp, tk, keep, count, unbatched)
        s = float(nll.sum())
        if self.reduction == "mean":
            return s / count if count else float("nan")
        return s

    def backward(self) -> np.ndarray:
        """``softmax(input) - onehot(target)`` (zero on ignored targets)."""
        logp, tk, keep, count, unbatched = self._take_saved()
        g = np.exp(logp)
        g[np.arange(len(tk)), tk] -= 1
        g *= keep[:, None]
        if self.reduction == "mean":
            g /= max(count, 1)
        return g[0] if unbatched else g
