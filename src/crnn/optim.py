"""Optimizers with torch's update rules and defaults, over crnn parameters.

Parameters are grouped by the flat buffer they live in: when a module's
parameters all take part, the update runs on its whole flat parameter and
gradient arrays at once.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ._module import Parameter, aliasing_state

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


def _check_lr(lr):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr: expected a number greater than 0, got {lr!r}")
    return float(lr)


def _check_nonneg(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v!r}")
    return float(v)


class Optimizer:
    def __init__(self, params):
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

    def __getstate__(self):
        """Pickled with its modules (``pickle.dumps((model, opt))``), the
        unpickled optimizer updates the unpickled modules' buffers."""
        return aliasing_state(self)

    def zero_grad(self):
        for _, g in self._pairs:
            g[...] = 0

    def step(self):
        for (p, g), st in zip(self._pairs, self.state):
            self._update(p, g, st)

    def _update(self, p, g, st):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """torch.optim.SGD: ``SGD(params, lr=1e-3, momentum=0, dampening=0,
    weight_decay=0, nesterov=False, maximize=False)``."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
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
            buf = st.get("momentum")
            if buf is None:
                buf = st["momentum"] = np.array(d, copy=True)
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * d
            d = d + self.momentum * buf if self.nesterov else buf
        p -= (self.lr * d).astype(p.dtype, copy=False)


class Adam(Optimizer):
    """torch.optim.Adam: ``Adam(params, lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)``."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
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
        if "m" not in st:
            st.update(step=0, m=np.zeros_like(p), v=np.zeros_like(p))
            if self.amsgrad:
                st["vmax"] = np.zeros_like(p)
        st["step"] += 1
        t, m, v = st["step"], st["m"], st["v"]
        m *= b1
        m += (1 - b1) * d
        v *= b2
        v += (1 - b2) * d * d
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        if self.amsgrad:
            np.maximum(st["vmax"], v, out=st["vmax"])
            v = st["vmax"]
        denom = np.sqrt(v) / math.sqrt(bc2) + self.eps
        p -= ((self.lr / bc1) * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay
    (``p *= 1 - lr * weight_decay``), default weight_decay=1e-2."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
