"""Gradient clipping, as torch.nn.utils.clip_grad_norm_."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from .._module import Parameter


def clip_grad_norm_(parameters: Iterable[Parameter], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale the gradients of ``parameters`` in place so that their joint
    norm is at most ``max_norm``; returns the norm before clipping."""
    params = list(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not params:
        return 0.0
    grads = [p.grad for p in params]
    # torch: the norm of the per-tensor norms, NaN propagating
    flat = np.concatenate([np.abs(g.astype(np.float64)).ravel() for g in grads])
    if flat.size == 0:
        total = 0.0
    elif norm_type == math.inf:
        total = float(np.max(flat))
    elif norm_type == -math.inf:
        total = float(np.min(flat))
    elif norm_type == 0:   # the 0-"norm" of the per-tensor 0-"norms", as torch
        total = float(sum(np.count_nonzero(g) > 0 for g in grads))
    else:
        total = float((flat ** norm_type).sum() ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is "
                           f"non-finite ({total})")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coef)
    return total
