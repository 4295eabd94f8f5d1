"""The optimizers: the ``Optimizer`` base (parameter grouping, state dicts)
and torch's update rules and defaults for SGD, Adam and AdamW.

Parameters are grouped by the flat buffer they live in: when a module's
parameters all take part, the update runs on its whole flat parameter and
gradient arrays at once.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Iterable

import numpy as np

from .._module import Parameter
from .._pickling import aliasing_state

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


def _check_lr(lr):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr: expected a number greater than 0, got {lr!r}")
    return float(lr)


def _check_nonneg(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v!r}")
    return float(v)


def _describe(value) -> str:
    if hasattr(value, "keys"):
        return f"keys {sorted(map(str, value.keys()))}"
    return type(value).__name__


def _state_items(state, n):
    """(int index, entry) of an optimizer state mapping whose keys (ints, or
    their strings) number the n flat buffers."""
    items = []
    for k, v in state.items():
        try:
            i = int(k)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < n or not hasattr(v, "items"):
            raise ValueError(f"state_dict: state key {k!r}: expected an int in [0, {n}) "
                             f"mapping to a dict")
        items.append((i, v))
    return items


class Optimizer:
    """Base of the optimizers: ``zero_grad()``, ``step()``, state dicts.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``module.parameters()`` (or several
        modules' lists joined).

    Notes
    -----
    Parameters are grouped by the flat buffer they live in: when all of a
    module's parameters take part, the update runs on its whole flat
    parameter and gradient arrays at once, and the optimizer keeps one
    state entry (momentum, Adam's moments) for that buffer.
    """

    #: the hyperparameters a subclass takes, as saved in ``param_groups``
    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Parameter]):
        if isinstance(params, Parameter):
            raise TypeError("params: expected an iterable of Parameters (e.g. "
                            "module.parameters()), got a single Parameter")
        params = list(params)
        if not params:
            raise ValueError("params: got an empty parameter list")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"params: expected crnn Parameters, got {type(p).__name__}")
        unique = list({id(p): p for p in params}.values())
        if len(unique) < len(params):
            warnings.warn("params: a parameter is listed more than once; it is updated "
                          "once", UserWarning, stacklevel=3)
            params = unique
        # (data, grad) pairs: whole flat buffers where every parameter of a
        # module is present, single parameters otherwise
        by_base, pairs = {}, []
        for p in params:
            by_base.setdefault(id(p.data.base), []).append(p)
        seen = set()
        for p in params:
            key = id(p.data.base)
            if key in seen:
                continue
            group, base = by_base[key], p.data.base
            if base is not None and sum(q.data.size for q in group) == base.size and \
                    len({id(q) for q in group}) == len(group):
                pairs.append((base, p.grad.base))
                seen.add(key)
            else:
                pairs += [(q.data, q.grad) for q in group if id(q) not in seen]
                seen.update(id(q) for q in group)
        self._pairs = pairs
        self.state = [dict() for _ in pairs]
        self.params = params
        self._arrays = [p.data for p in params]   # to notice a module converted since

    def __getstate__(self):
        """Pickled with its modules (``pickle.dumps((model, opt))``), the
        unpickled optimizer updates the unpickled modules' buffers."""
        state = aliasing_state(self)
        del state["_arrays"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._arrays = [p.data for p in self.params]

    def _check_current(self, what: str) -> None:
        """Refuses to act on arrays a module no longer uses (it was converted
        to another dtype after this optimizer was built)."""
        for p, arr in zip(self.params, self._arrays):
            if p.data is not arr:
                raise RuntimeError(f"{what}: parameter {p.name} was converted (module.to, "
                                   f".double() or .float()) after this optimizer was built; "
                                   f"build the optimizer after converting the module")

    def zero_grad(self) -> None:
        """Set the gradients of every parameter to zero."""
        self._check_current("zero_grad")
        for _, g in self._pairs:
            g[...] = 0

    def step(self) -> None:
        """Update every parameter from its gradient, in place."""
        self._check_current("step")
        for (p, g), st in zip(self._pairs, self.state):
            self._update(p, g, st)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (", "Parameter Group 0"]
        lines += [f"    {h}: {getattr(self, h)}" for h in self.hyperparameters]
        return "\n".join(lines + [")"])

    def state_dict(self) -> dict:
        """The optimizer's state, with torch's structure.

        Returns
        -------
        dict
            ``{"state": {i: {name: value}}, "param_groups": [{hyperparameter:
            value, ..., "params": [0, 1, ...]}]}``: ``state`` holds a copy of
            the running state (momentum buffers, Adam's ``step``,
            ``exp_avg``, ``exp_avg_sq``) of each flat buffer ``i`` the
            optimizer updates; ``params`` numbers the parameters it was
            given.
        """
        state = {i: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in st.items()}
                 for i, st in enumerate(self.state) if st}
        group = {h: getattr(self, h) for h in self.hyperparameters}
        group["params"] = list(range(len(self.params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Any) -> None:
        """Restore a state from :meth:`state_dict` (or :func:`crnn.load` of it).

        Parameters
        ----------
        state_dict : dict
            As :meth:`state_dict` returns, from an optimizer of the same kind
            over parameters of the same shapes, in the same order. Everything
            is checked before anything is changed.
        """
        if not hasattr(state_dict, "keys") or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict: expected a mapping with keys 'state' and "
                             f"'param_groups', got {_describe(state_dict)}")
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0].get("params", ())) != len(self.params):
            raise ValueError(f"state_dict: expected one parameter group of "
                             f"{len(self.params)} parameters, got "
                             f"{[len(g.get('params', ())) for g in groups]}")
        missing = [h for h in self.hyperparameters if h not in groups[0]]
        if missing:
            raise ValueError(f"state_dict: param_groups[0] lacks {missing} (saved by "
                             f"another kind of optimizer than {type(self).__name__}?)")
        state = [self._checked_state(i, st) for i, st in _state_items(state_dict["state"],
                                                                       len(self._pairs))]
        fresh = self.__class__(self.params, **{h: groups[0][h] for h in self.hyperparameters})
        for h in self.hyperparameters:   # checked by the constructor
            setattr(self, h, getattr(fresh, h))
        self.state = [dict() for _ in self._pairs]
        for i, st in state:
            self.state[i] = st

    def _checked_state(self, i, st):
        """(i, a copy of st) with arrays of buffer i's shape and dtype."""
        p = self._pairs[i][0]
        out = {}
        for k, v in st.items():
            if k == "step":
                out[k] = int(np.asarray(v))
                continue
            arr = np.array(v, dtype=p.dtype, copy=True)
            if arr.shape != p.shape:
                raise ValueError(f"state_dict: state[{i}][{k!r}]: expected shape {p.shape}, "
                                 f"got {arr.shape}")
            out[k] = arr
        return i, out

    def _update(self, p, g, st):  # pragma: no cover - abstract
        """Update one (parameters, gradients) pair with its state dict."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with torch.optim.SGD's update rule.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update.
    lr : float, default 1e-3
        Learning rate.
    momentum : float, default 0
        Momentum factor.
    dampening : float, default 0
        Dampening of the momentum.
    weight_decay : float, default 0
        L2 penalty added to the gradient.
    nesterov : bool, default False
        Nesterov momentum (needs momentum > 0 and no dampening).
    maximize : bool, default False
        Maximise the objective instead.
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov",
                       "maximize")

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 maximize: bool = False):
        super().__init__(params)
        self.lr = _check_lr(lr)
        self.momentum = _check_nonneg(momentum, "momentum")
        self.dampening = float(dampening)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.nesterov, self.maximize = bool(nesterov), bool(maximize)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov: requires a momentum > 0 and zero dampening")

    def _update(self, p, g, st):
        d = -g if self.maximize else g
        if self.weight_decay:
            d = d + self.weight_decay * p
        if self.momentum:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = np.array(d, copy=True)
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        p -= (self.lr * d).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """Adam, with torch.optim.Adam's update rule.

    Parameters
    ----------
    params : iterable of Parameter
        The parameters to update, e.g. ``module.parameters()``.
    lr : float, default 1e-3
        Step size, before the per-element scaling by the moments.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the running averages of the gradient and its square.
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 0
        L2 penalty added to the gradient (AdamW: decoupled).
    amsgrad : bool, default False
        Use the maximum of the past squared-gradient averages.
    maximize : bool, default False
        Maximise the objective instead.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")

    decoupled = False

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params)
        self.lr = _check_lr(lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas: expected both in [0, 1), got {betas!r}")
        self.betas = (float(b1), float(b2))
        self.eps = _check_nonneg(eps, "eps")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.amsgrad, self.maximize = bool(amsgrad), bool(maximize)

    def _update(self, p, g, st):
        b1, b2 = self.betas
        d = -g if self.maximize else g
        if self.weight_decay:
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                d = d + self.weight_decay * p
        if "exp_avg" not in st:   # torch's names
            st.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            if self.amsgrad:
                st["max_exp_avg_sq"] = np.zeros_like(p)
        st["step"] += 1
        t, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * d
        v *= b2
        v += (1 - b2) * d * d
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        if self.amsgrad:
            np.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
            v = st["max_exp_avg_sq"]
        denom = np.sqrt(v) / math.sqrt(bc2) + self.eps
        p -= ((self.lr / bc1) * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """AdamW, with torch.optim.AdamW's update rule: Adam with decoupled weight
    decay (``p *= 1 - lr * weight_decay``), default ``weight_decay=1e-2``.

    Parameters are those of :class:`Adam`.
    """

    decoupled = True

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
