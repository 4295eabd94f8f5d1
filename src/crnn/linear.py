"""crnn.Linear: y = x W^T + b over the last axis of any-rank input (every
time step of a sequence at once), with torch's parameters, initialisation
and the layers' forward / backward contract."""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._module import Module
from ._validate import as_array, check_positive_int, check_shape


class Linear(Module):
    """A linear layer, as torch.nn.Linear: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features : int
        Size of the last axis of the input.
    out_features : int
        Size of the last axis of the output.
    bias : bool, default True
        Whether the layer has a ``bias``.
    dtype : {np.float32, np.float64}, default np.float32
        The parameters' dtype; input is converted to it.
    seed : int, optional
        Seed of the initialisation (else ``crnn.manual_seed``'s generator).
    generator : numpy.random.Generator, optional
        Generator of the initialisation (not with ``seed``).

    Notes
    -----
    x may have any shape ``(..., in_features)``: a whole (N, L, H) sequence
    output goes through at once. ``weight`` is (out_features, in_features)
    and ``bias`` (out_features,), both from U(-1/sqrt(in_features),
    1/sqrt(in_features)) as torch. ``grad_x = lin.backward(grad_y)`` after
    a training-mode forward adds to the parameter gradients.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: DTypeLike = np.float32, *, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__(dtype, seed, generator)
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        specs = [("weight", (self.out_features, self.in_features))]
        if bias:
            specs.append(("bias", (self.out_features,)))
        self._allocate(specs)
        if not bias:   # as torch: lin.bias is the Parameter, or None
            object.__setattr__(self, "bias", None)
        self._saved = None
        self._init_uniform(1.0 / math.sqrt(self.in_features))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={'bias' in self._params}")

    def _fitting_arguments(self, name, shape):
        fit = dict(zip(("out_features", "in_features"), shape))
        return {k: v for k, v in fit.items() if v != getattr(self, k)}

    def forward(self, input: ArrayLike) -> np.ndarray:
        """``y = lin(x)``: x (..., in_features) -> y (..., out_features)."""
        return self._run(self._forward, "forward", input)

    def _forward(self, input):
        x = as_array(input, self.dtype, "input")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"input: expected (..., {self.in_features}) (in_features in "
                             f"the last dimension), got shape {x.shape}")
        w = self._params["weight"].data
        y = x @ w.T
        if "bias" in self._params:
            y += self._params["bias"].data
        if self.training:   # kept for backward (an eval forward leaves it alone)
            self._saved = np.array(x, copy=True)
        return y

    def backward(self, grad_output: ArrayLike) -> np.ndarray:
        """``grad_x = lin.backward(grad_y)`` after a training-mode forward:
        adds to ``weight.grad`` (and ``bias.grad``), returns d loss / d x."""
        return self._run(self._backward, "backward", grad_output)

    def _backward(self, grad_output):
        if self._saved is None:
            raise RuntimeError("backward: expected a preceding forward in training mode; "
                               "none is pending")
        x = self._saved
        g = as_array(grad_output, self.dtype, "grad_output")
        check_shape(g, "grad_output", x.shape[:-1] + (self.out_features,),
                    " (the output's shape)")
        self._saved = None
        g2 = g.reshape(-1, self.out_features)
        p = self._params
        p["weight"].grad[...] += g2.T @ x.reshape(-1, self.in_features)
        if "bias" in p:
            p["bias"].grad[...] += g2.sum(0)
        return g @ p["weight"].data
