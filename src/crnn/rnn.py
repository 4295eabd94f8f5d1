"""Recurrent layers with torch.nn's API over NumPy arrays.

``RNNBase`` holds the one loop over layers and directions (stacking,
bidirection, inter-layer dropout) for every layer kind; ``RNNCellBase``
likewise for single-step cells. Subclasses only say which cell kind they
are. All per-time-step work happens in the C core (``crnn._kernels``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import _kernels
from ._module import Module
from ._validate import (as_array, as_kernel_array, check_choice,
                        check_positive_int, check_probability, check_shape)

_CELLS = {"RNN_TANH": _kernels.RNN_TANH, "RNN_RELU": _kernels.RNN_RELU}


def _forward_one(cell, reverse, input_size, hidden_size, weights, x, h0, out,
                 hn, training):
    """One layer-direction forward; returns the training reserve (or None)."""
    sizes = _kernels.sizes(cell, input_size, hidden_size, x.shape[0], x.shape[1])
    dtype = x.dtype
    reserve = np.empty(sizes[0], dtype) if training else None
    work = np.empty(sizes[2] if training else sizes[1], dtype)
    _kernels.forward(cell, reverse, input_size, hidden_size, x, h0, out, hn,
                     weights, reserve, work)
    return reserve


def _backward_one(cell, reverse, input_size, hidden_size, weights, grads, x,
                  dout, dhn, dx, dh0, reserve):
    """One layer-direction backward, accumulating into grads, dx and dh0."""
    sizes = _kernels.sizes(cell, input_size, hidden_size, x.shape[0], x.shape[1])
    work = np.empty(sizes[3], x.dtype)
    _kernels.backward(cell, reverse, input_size, hidden_size, weights, grads,
                      x, dout, dhn, dx, dh0, reserve, work)


def _private_copy(x: np.ndarray, source) -> np.ndarray:
    """x, copied if it may share memory with the caller's array (a training
    forward keeps its input for backward; the caller may change theirs)."""
    if isinstance(source, np.ndarray) and np.may_share_memory(x, source):
        return x.copy()
    return x


class RNNBase(Module):
    r"""Base of the multi-layer recurrent layers.

    Shapes (torch's): ``input`` is (L, N, H_in), or (N, L, H_in) with
    ``batch_first=True``, or unbatched (L, H_in); ``h_0`` and ``h_n`` are
    (D * num_layers, N, H_out), or (D * num_layers, H_out) unbatched —
    ``batch_first`` never applies to them; ``output`` is (L, N, D * H_out)
    (batch_first: (N, L, D * H_out)). D = 2 if bidirectional else 1.

    Parameters, per layer k and direction (suffix ``_reverse`` for the
    backward direction), in torch's order, names and shapes:
    ``weight_ih_l{k}`` (G * hidden_size, input_size for k = 0 else D *
    hidden_size), ``weight_hh_l{k}`` (G * hidden_size, hidden_size),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G * hidden_size), G the gate count.
    All are initialised from U(-sqrt(k), sqrt(k)), k = 1 / hidden_size.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False,
                 dtype=np.float32, *, seed=None, generator=None):
        super().__init__(dtype, seed, generator)
        self.mode = check_choice(mode, "mode", tuple(_CELLS))
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, "dropout")
        self.bidirectional = bool(bidirectional)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last "
                          "recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} "
                          f"and num_layers={num_layers}", stacklevel=2)
        self._cell = _CELLS[self.mode]
        gh = _kernels.GATES[self._cell] * self.hidden_size
        D = self.num_directions
        specs = []
        for k in range(self.num_layers):
            in_k = self._layer_input_size(k)
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                specs += [(f"weight_ih{sfx}", (gh, in_k)),
                          (f"weight_hh{sfx}", (gh, self.hidden_size))]
                if self.bias:
                    specs += [(f"bias_ih{sfx}", (gh,)), (f"bias_hh{sfx}", (gh,))]
        self._allocate(specs)
        self._weights, self._grads = [], []  # per (layer, direction)
        for k in range(self.num_layers):
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                names = [f"{n}{sfx}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                ps = [self._params.get(n) for n in names]
                self._weights.append(tuple(p.data if p else None for p in ps) + (None,))
                self._grads.append(tuple(p.grad if p else None for p in ps) + (None,))
        self._saved = None
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _layer_input_size(self, k: int) -> int:
        return self.input_size if k == 0 else self.num_directions * self.hidden_size

    def reset_parameters(self) -> None:
        self._init_uniform(1.0 / math.sqrt(self.hidden_size))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.dtype != np.float32:
            s += f", dtype={self.dtype}"
        return s

    # -- forward ------------------------------------------------------------
    def __call__(self, input, hx=None):
        return self.forward(input, hx)

    def forward(self, input, hx=None):
        """``output, h_n = rnn(input, h_0=None)``; in training mode keeps what
        ``backward`` needs."""
        x = as_kernel_array(input, self.dtype, "input")
        if x.ndim not in (2, 3):
            raise ValueError(f"input: expected 2-D (unbatched) or 3-D (batched) "
                             f"input, got {x.ndim}-D with shape {x.shape}")
        batched = x.ndim == 3
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input: expected {self.input_size} features "
                             f"(input_size) in the last dimension, got shape {x.shape}")
        user_shape = x.shape
        x = x.transpose(1, 0, 2) if batched and self.batch_first else (
            x if batched else x[:, None, :])              # (L, N, I) view
        L, N, _ = x.shape
        if L == 0:
            raise ValueError(f"input: expected a sequence length greater than 0, "
                             f"got shape {user_shape}")
        D, H, layers = self.num_directions, self.hidden_size, self.num_layers
        h0 = self._state_in(hx, "h_0", N, batched)
        training = self.training
        if training:
            x = _private_copy(x, input)

        if batched and self.batch_first:
            out_user = np.empty((N, L, D * H), self.dtype)
            out = out_user.transpose(1, 0, 2)
        else:
            out = np.empty((L, N, D * H), self.dtype)
            out_user = out if batched else out[:, 0, :]
        hn = np.empty((D * layers, N, H), self.dtype)

        saved, layer_in = [], x
        for k in range(layers):
            last = k == layers - 1
            layer_out = out if last else np.empty((L, N, D * H), self.dtype)
            reserves = [
                _forward_one(self._cell, d == 1, self._layer_input_size(k), H,
                             self._weights[k * D + d], layer_in,
                             None if h0 is None else h0[k * D + d],
                             layer_out[:, :, d * H:(d + 1) * H], hn[k * D + d],
                             training)
                for d in range(D)]
            mask = None
            if not last and training and self.dropout > 0:
                mask = self._dropout_mask(layer_out.shape)
            if training:
                saved.append((layer_in, reserves, mask))
            layer_in = layer_out if mask is None else layer_out * mask
        self._saved = None
        if training:
            self._saved = dict(layers=saved, batched=batched, h0_given=hx is not None,
                               out_shape=out_user.shape, L=L, N=N)
        return out_user, (hn if batched else hn[:, 0, :])

    def _state_in(self, hx, name, N, batched):
        """h_0 as a (D * num_layers, N, H) array (None: zeros)."""
        if hx is None:
            return None
        h = as_kernel_array(hx, self.dtype, name)
        want = (self.num_directions * self.num_layers, N, self.hidden_size)
        if batched:
            if h.ndim != 3:
                raise ValueError(f"{name}: for batched 3-D input, {name} should "
                                 f"also be 3-D {want}, got {h.ndim}-D with shape {h.shape}")
            check_shape(h, name, want)
            return h
        if h.ndim != 2:
            raise ValueError(f"{name}: for unbatched 2-D input, {name} should also "
                             f"be 2-D {(want[0], want[2])}, got {h.ndim}-D with shape {h.shape}")
        check_shape(h, name, (want[0], want[2]))
        return h[:, None, :]

    def _dropout_mask(self, shape):
        p = self.dropout
        keep = self.rng.random(shape, dtype=self.dtype) >= p
        return keep * (self.dtype.type(0) if p == 1 else self.dtype.type(1.0 / (1.0 - p)))

    # -- backward -----------------------------------------------------------
    def backward(self, grad_output, grad_h_n=None):
        """Backpropagation through time after a training-mode forward.

        ``grad_output`` has the forward output's shape, ``grad_h_n`` (or None:
        zeros) h_n's. Adds the parameter gradients to each ``p.grad`` (until
        ``zero_grad()``) and returns ``(grad_input, grad_h_0)``; grad_h_0 is
        None when the forward was not given h_0. The forward's saved state is
        consumed: a second backward needs a new forward."""
        s = self._saved
        if s is None:
            raise RuntimeError("backward: expected a preceding forward in training "
                               "mode (train(), then forward); none is pending — "
                               "eval-mode forwards keep nothing, and each backward "
                               "consumes its forward")
        D, H, layers = self.num_directions, self.hidden_size, self.num_layers
        L, N, batched = s["L"], s["N"], s["batched"]
        g = as_kernel_array(grad_output, self.dtype, "grad_output")
        check_shape(g, "grad_output", s["out_shape"], " (the output's shape)")
        ghn = None
        if grad_h_n is not None:
            ghn = as_kernel_array(grad_h_n, self.dtype, "grad_h_n")
            want = (D * layers, N, H) if batched else (D * layers, H)
            check_shape(ghn, "grad_h_n", want, " (h_n's shape)")
            if not batched:
                ghn = ghn[:, None, :]
        self._saved = None

        dout = g.transpose(1, 0, 2) if batched and self.batch_first else (
            g if batched else g[:, None, :])
        grad_h0 = np.zeros((D * layers, N, H), self.dtype) if s["h0_given"] else None
        for k in reversed(range(layers)):
            layer_in, reserves, _ = s["layers"][k]
            in_k = self._layer_input_size(k)
            if k == 0 and batched and self.batch_first:
                dx_user = np.zeros((N, L, in_k), self.dtype)
                dx = dx_user.transpose(1, 0, 2)
            else:
                dx = dx_user = np.zeros((L, N, in_k), self.dtype)
            for d in range(D):
                i = k * D + d
                _backward_one(self._cell, d == 1, in_k, H, self._weights[i],
                              self._grads[i], layer_in,
                              dout[:, :, d * H:(d + 1) * H],
                              None if ghn is None else ghn[i], dx,
                              None if grad_h0 is None else grad_h0[i], reserves[d])
            if k > 0:
                mask = s["layers"][k - 1][2]
                dout = dx if mask is None else dx * mask
        grad_x = dx_user if batched else dx_user[:, 0, :]
        if grad_h0 is not None and not batched:
            grad_h0 = grad_h0[:, 0, :]
        return grad_x, grad_h0


class RNN(RNNBase):
    r"""Multi-layer Elman RNN with tanh or ReLU non-linearity, as torch.nn.RNN.

    For each element of the input sequence each layer computes

    .. math:: h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    (ReLU instead of tanh with ``nonlinearity='relu'``), where x_t is the
    input, or for layers after the first the previous layer's output
    (after dropout in training mode).

    ``rnn = RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False,
    dtype=np.float32, *, seed=None, generator=None)``;
    ``output, h_n = rnn(input, h_0=None)``;
    ``grad_input, grad_h_0 = rnn.backward(grad_output, grad_h_n=None)``.
    Shapes and parameters as in :class:`RNNBase`, with G = 1.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 dtype=np.float32, *, seed=None, generator=None):
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
                         input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype, seed=seed, generator=generator)


class RNNCellBase(Module):
    """Base of the single-step cells: one time step of one layer, batched
    (N, input_size) or unbatched (input_size,) input; parameters
    ``weight_ih`` (G * hidden_size, input_size), ``weight_hh`` (G *
    hidden_size, hidden_size), ``bias_ih``, ``bias_hh`` (G * hidden_size)."""

    def __init__(self, cell, input_size, hidden_size, bias, dtype, seed, generator):
        super().__init__(dtype, seed, generator)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self._cell = cell
        gh = _kernels.GATES[cell] * self.hidden_size
        specs = [("weight_ih", (gh, self.input_size)), ("weight_hh", (gh, self.hidden_size))]
        if self.bias:
            specs += [("bias_ih", (gh,)), ("bias_hh", (gh,))]
        self._allocate(specs)
        ps = [self._params.get(n) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        self._weights = tuple(p.data if p else None for p in ps) + (None,)
        self._grads = tuple(p.grad if p else None for p in ps) + (None,)
        self._saved = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._init_uniform(1.0 / math.sqrt(self.hidden_size))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def __call__(self, input, hx=None):
        return self.forward(input, hx)

    def forward(self, input, hx=None):
        """``h' = cell(input, hx=None)``."""
        x = as_kernel_array(input, self.dtype, "input")
        if x.ndim not in (1, 2):
            raise ValueError(f"input: expected 1-D (unbatched) or 2-D (batched) "
                             f"input, got {x.ndim}-D with shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input: expected {self.input_size} features "
                             f"(input_size) in the last dimension, got shape {x.shape}")
        batched = x.ndim == 2
        x3 = x[None] if batched else x[None, None]        # (1, N, I)
        N, H = x3.shape[1], self.hidden_size
        h = None
        if hx is not None:
            h = as_kernel_array(hx, self.dtype, "hx")
            check_shape(h, "hx", (N, H) if batched else (H,),
                        " (the input's batch, hidden_size)")
            h = h if batched else h[None]
        training = self.training
        if training:
            x3 = _private_copy(x3, input)
        hn = np.empty((N, H), self.dtype)
        reserve = _forward_one(self._cell, False, self.input_size, H, self._weights,
                               x3, h, None, hn, training)
        self._saved = (x3, reserve, hx is not None, batched) if training else None
        return hn if batched else hn[0]

    def backward(self, grad_h):
        """After a training-mode forward: accumulate parameter gradients and
        return ``(grad_input, grad_hx)`` (grad_hx None when hx was not
        given)."""
        if self._saved is None:
            raise RuntimeError("backward: expected a preceding forward in training "
                               "mode (train(), then forward); none is pending — "
                               "eval-mode forwards keep nothing, and each backward "
                               "consumes its forward")
        x3, reserve, h_given, batched = self._saved
        N, H = x3.shape[1], self.hidden_size
        g = as_kernel_array(grad_h, self.dtype, "grad_h")
        check_shape(g, "grad_h", (N, H) if batched else (H,), " (the output's shape)")
        self._saved = None
        dx = np.zeros(x3.shape, self.dtype)
        dh = np.zeros((N, H), self.dtype) if h_given else None
        _backward_one(self._cell, False, self.input_size, H, self._weights,
                      self._grads, x3, None, g if batched else g[None], dx, dh, reserve)
        if not batched:
            return dx[0, 0], None if dh is None else dh[0]
        return dx[0], dh


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell, as torch.nn.RNNCell:
    :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})` (or ReLU).

    ``cell = RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh',
    dtype=np.float32, *, seed=None, generator=None)``; ``h1 = cell(x, h0=None)``
    with x (N, input_size) or (input_size,); ``grad_x, grad_h0 =
    cell.backward(grad_h1)``.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 dtype=np.float32, *, seed=None, generator=None):
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__(_kernels.RNN_TANH if nonlinearity == "tanh" else _kernels.RNN_RELU,
                         input_size, hidden_size, bias, dtype, seed, generator)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s
