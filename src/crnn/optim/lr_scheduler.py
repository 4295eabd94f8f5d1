"""Learning-rate schedules with torch.optim.lr_scheduler's rules: they set
an optimizer's ``lr`` epoch by epoch, and give the same sequence of rates
as torch's (the same float operations in the same order)::

    opt = crnn.optim.Adam(params, lr=0.01)
    sched = crnn.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        ...                       # forward, backward, opt.step()
        sched.step()

Each has ``state_dict()`` / ``load_state_dict()``, so that a resumed run
continues the same schedule (save it beside the optimizer's state). The
module's name is ``crnn.optim.lr_scheduler``, torch's spelling
(``from crnn.optim.lr_scheduler import StepLR`` works too).
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from .._validate import check_choice, check_positive_int
from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a crnn.optim optimizer, got "
                        f"{type(optimizer).__name__}")
    return optimizer


def _check_number(value, name, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            (low is not None and not value >= low) or (high is not None and not value < high):
        bounds = f" in [{low}, {high})" if high is not None else f" >= {low}"
        raise ValueError(f"{name}: expected a number{bounds}, got {value!r}")
    return value


class _Scheduler:
    """State dicts and repr shared by the schedules: ``_fields`` names the
    attributes that make up the state."""

    _fields: tuple[str, ...] = ()
    optimizer: Any
    _last_lr: list

    def state_dict(self) -> dict:
        """The schedule's state: its settings and where it is in them.

        Returns
        -------
        dict
            Plain numbers and lists, keyed by torch's attribute names.
        """
        return {k: list(v) if isinstance(v, list) else v
                for k, v in ((k, getattr(self, k)) for k in self._fields)}

    def load_state_dict(self, state_dict) -> None:
        """Restore a state from :meth:`state_dict`.

        Parameters
        ----------
        state_dict : dict
            As :meth:`state_dict` returns, from a schedule of the same kind.
        """
        if not hasattr(state_dict, "keys") or set(state_dict) != set(self._fields):
            got = sorted(state_dict) if hasattr(state_dict, "keys") else type(state_dict).__name__
            raise ValueError(f"state_dict: expected the keys {sorted(self._fields)} of a "
                             f"{type(self).__name__} state, got {got}")
        for k in self._fields:
            v = state_dict[k]
            setattr(self, k, list(v) if isinstance(v, (list, tuple)) else v)

    def get_last_lr(self) -> list[float]:
        """The learning rate the last :meth:`step` set, as a one-element list
        (torch: one per parameter group)."""
        return list(self._last_lr)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields
                             if not k.startswith("_") and k not in ("base_lrs", "last_epoch"))
        return f"{type(self).__name__}({settings})"


class LRScheduler(_Scheduler):
    """Base of the epoch-indexed schedules (torch's ``LRScheduler``).

    Parameters
    ----------
    optimizer : crnn.optim.Optimizer
        The optimizer whose ``lr`` the schedule sets; its ``lr`` at
        construction is the base rate.
    """

    def __init__(self, optimizer):
        self.optimizer = _check_optimizer(optimizer)
        self.base_lrs = [optimizer.lr]
        self.last_epoch = -1
        self._step_count = 0
        self.step()          # as torch: epoch 0 sets the base rate

    def get_lr(self) -> float:  # pragma: no cover - abstract
        """The rate for ``last_epoch``, from the optimizer's current one."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the optimizer's ``lr`` (call it after
        ``optimizer.step()``)."""
        self._step_count += 1
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()
        self._last_lr = [self.optimizer.lr]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs, as
    torch.optim.lr_scheduler.StepLR.

    Parameters
    ----------
    optimizer : crnn.optim.Optimizer
        The optimizer whose ``lr`` the schedule sets.
    step_size : int
        Period of the decay, in epochs.
    gamma : float, default 0.1
        Factor of the decay.
    """

    _fields = ("step_size", "gamma", "base_lrs", "last_epoch", "_step_count", "_last_lr")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = _check_number(gamma, "gamma", 0)
        super().__init__(optimizer)

    def get_lr(self) -> float:
        lr = self.optimizer.lr
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the rate along a cosine from the base rate to ``eta_min`` over
    ``T_max`` epochs (and back up over the next ``T_max``), as
    torch.optim.lr_scheduler.CosineAnnealingLR:

    .. math:: \eta_t = \eta_{min} + \tfrac12 (\eta_{base} - \eta_{min})
              (1 + \cos(\pi t / T_{max}))

    computed recursively from the current rate, as torch does.

    Parameters
    ----------
    optimizer : crnn.optim.Optimizer
        The optimizer whose ``lr`` the schedule sets.
    T_max : int
        Half-period of the cosine, in epochs.
    eta_min : float, default 0.0
        The lowest rate.
    """

    _fields = ("T_max", "eta_min", "base_lrs", "last_epoch", "_step_count", "_last_lr")

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max = check_positive_int(T_max, "T_max")
        self.eta_min = _check_number(eta_min, "eta_min", 0)
        super().__init__(optimizer)

    def get_lr(self) -> float:
        lr, base, lo, t, T = (self.optimizer.lr, self.base_lrs[0], self.eta_min,
                              self.last_epoch, self.T_max)
        if t == 0:
            return lr
        if (t - 1 - T) % (2 * T) == 0:
            return lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * \
            (lr - lo) + lo


class ReduceLROnPlateau(_Scheduler):
    """Multiply the rate by ``factor`` when a metric has stopped improving
    for ``patience`` epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau.

    Parameters
    ----------
    optimizer : crnn.optim.Optimizer
        The optimizer whose ``lr`` the schedule sets.
    mode : {"min", "max"}, default "min"
        Whether the metric improves by going down or up.
    factor : float, default 0.1
        Factor of the reduction, in [0, 1).
    patience : int, default 10
        Epochs without improvement tolerated before a reduction.
    threshold : float, default 1e-4
        The least change that counts as an improvement.
    threshold_mode : {"rel", "abs"}, default "rel"
        ``threshold`` relative to the best value, or absolute.
    cooldown : int, default 0
        Epochs to wait after a reduction before counting again.
    min_lr : float, default 0
        The rate is never reduced below this.
    eps : float, default 1e-8
        A reduction smaller than this is skipped.
    """

    _fields = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
               "min_lr", "eps", "best", "num_bad_epochs", "cooldown_counter",
               "last_epoch", "_last_lr")

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        self.optimizer = _check_optimizer(optimizer)
        self.mode = check_choice(mode, "mode", ("min", "max"))
        self.factor = _check_number(factor, "factor", 0, 1)
        self.patience = _check_number(patience, "patience", 0)
        self.threshold = _check_number(threshold, "threshold", 0)
        self.threshold_mode = check_choice(threshold_mode, "threshold_mode", ("rel", "abs"))
        self.cooldown = _check_number(cooldown, "cooldown", 0)
        self.min_lr = _check_number(min_lr, "min_lr", 0)
        self.eps = _check_number(eps, "eps", 0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    def _is_better(self, a: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < (best * (1.0 - th) if self.threshold_mode == "rel" else best - th)
        return a > (best * (th + 1) if self.threshold_mode == "rel" else best + th)

    def step(self, metrics: float) -> None:
        """Count one epoch with this value of the metric; reduce the rate if
        it has not improved for more than ``patience`` epochs.

        Parameters
        ----------
        metrics : float
            The metric of this epoch, e.g. the validation loss.
        """
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [self.optimizer.lr]
