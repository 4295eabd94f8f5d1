"""Recurrent layers with torch.nn's API over NumPy arrays.

``RNNBase`` holds the one loop over layers and directions (stacking,
bidirection, inter-layer dropout) for every layer kind; ``RNNCellBase``
likewise for single-step cells. Subclasses only say which cell kind they
are. All per-time-step work happens in the C core (``crnn._kernels``).
"""
from __future__ import annotations

import inspect
import math
import numbers
import textwrap
import warnings
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _kernels, _schedule
from ._module import Module
from ._threads import get_num_threads
from ._validate import (INT_MAX, as_kernel_array, check_choice, check_input, is_plain,
                        check_positive_int, check_probability, check_rows, check_shape)
from .utils.rnn import PackedSequence

_CELLS = {"RNN_TANH": _kernels.RNN_TANH, "RNN_RELU": _kernels.RNN_RELU,
          "LSTM": _kernels.LSTM, "GRU": _kernels.GRU}

_NO_FORWARD = ("backward: expected a preceding forward in training mode "
               "(train(), then forward); none is pending — eval-mode forwards "
               "keep nothing, and each backward consumes its forward")


class _Kind:
    """What differs between the cell kinds, as the shared loops need it."""

    def __init__(self, cell: int, hidden_size: int, proj_size: int = 0):
        self.cell = cell
        self.hidden_size = hidden_size
        self.proj_size = proj_size
        self.out_size = proj_size or hidden_size          # features of h
        self.gate_size = _kernels.GATES[cell] * hidden_size
        self.lstm = cell == _kernels.LSTM
        # the state: h (out_size features), and c (hidden_size) for LSTM
        self.state_names = ("h", "c") if self.lstm else ("h",)
        self.state_sizes = (self.out_size, hidden_size) if self.lstm else (self.out_size,)

    def param_specs(self, input_size: int, bias: bool, suffix: str = ""):
        """[(name, shape)] in torch's order for one layer-direction."""
        specs = [(f"weight_ih{suffix}", (self.gate_size, input_size)),
                 (f"weight_hh{suffix}", (self.gate_size, self.out_size))]
        if bias:
            specs += [(f"bias_ih{suffix}", (self.gate_size,)),
                      (f"bias_hh{suffix}", (self.gate_size,))]
        if self.proj_size:
            specs.append((f"weight_hr{suffix}", (self.proj_size, self.hidden_size)))
        return specs

    @staticmethod
    def views(params: dict, suffix: str = ""):
        """(weights, grads): the tuples (w_ih, w_hh, b_ih, b_hh, w_hr) the
        kernels take, None where the module has no such parameter."""
        ps = [params.get(f"{n}{suffix}") for n in
              ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
        return (tuple(p.data if p else None for p in ps),
                tuple(p.grad if p else None for p in ps))

    def direction(self, reverse: bool, input_size: int, params: dict,
                  suffix: str = "", qtype: int = 0) -> _kernels.Direction:
        """The kernels' object for one layer-direction over its parameters
        (and gradients) in ``params``: built once, with the module. With
        qtype (``crnn.quantize``) the weights are int8 (with their
        ``*_scale`` parameters) or bfloat16, packed once, without
        gradients."""
        weights, grads = self.views(params, suffix)
        if not qtype:
            return _kernels.Direction(self.cell, reverse, input_size, self.hidden_size,
                                      self.proj_size, weights, grads)
        scales = tuple(p.data if p else None for p in
                       (params.get(f"{n}{suffix}_scale") for n in _kernels.WEIGHT_NAMES))
        if qtype == _kernels.QBF16:   # bfloat16 biases, widened (exactly) for the kernels
            weights = tuple(w if w is None or i in _kernels.PACKED else
                            (w.astype(np.uint32) << 16).view(np.float32)
                            for i, w in enumerate(weights))
        return _kernels.Direction(self.cell, reverse, input_size, self.hidden_size,
                                  self.proj_size, weights, None, qtype, scales)

    def split_state(self, value, name: str, both: tuple = ()):
        """A user's state argument as a per-state list: an array (or None)
        for RNN/GRU, an (h, c) pair (or None) for LSTM. both: the pair's
        names, when a pair given must have both."""
        if not self.lstm:
            if isinstance(value, tuple):   # an LSTM's (h, c), or a stray (h,)
                raise TypeError(f"{name}: {_ARTICLE_KIND[self.cell]} takes one state array, "
                                f"not a tuple (only an LSTM's state is a pair (h, c)); got "
                                f"a tuple of {len(value)}")
            return [value]
        if value is None:
            return [None, None]
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"{name}: expected a tuple (h, c) for LSTM, got "
                            f"{type(value).__name__}")
        if both and (value[0] is None or value[1] is None):
            raise TypeError(f"{name}: expected both {both[0]} and {both[1]}, got None for "
                            f"one of them")
        return list(value)

    def join_state(self, parts):
        return tuple(parts) if self.lstm else parts[0]


def _check_sizes(kind: _Kind, widest_input: int) -> None:
    """Weight matrices whose dimensions BLAS's 32-bit ints cannot index are
    refused before anything is allocated."""
    if kind.gate_size > INT_MAX or widest_input > INT_MAX:
        raise ValueError(f"hidden_size: {kind.hidden_size} gives {kind.gate_size} gate rows "
                         f"(inputs up to {widest_input}), beyond the {INT_MAX} a 32-bit "
                         f"BLAS index holds")


_ARTICLE_KIND = {_kernels.RNN_TANH: "an RNN", _kernels.RNN_RELU: "an RNN",
                 _kernels.LSTM: "an LSTM", _kernels.GRU: "a GRU"}


def _kind_hint(module, state_dict) -> str:
    """What a state dict's recurrent weights say it is, when that is another
    kind than ``module`` (an LSTM's weights for a GRU): its weight_hh has
    G * H rows for H columns, G the gate count (or an LSTM's projection)."""
    suffix = "_l0" if isinstance(module, RNNBase) else ""
    w = state_dict.get(f"weight_hh{suffix}") if hasattr(state_dict, "get") else None
    shape = tuple(np.shape(w)) if w is not None else ()
    if len(shape) != 2 or not shape[1]:
        return ""
    if f"weight_hr{suffix}" in state_dict:
        gates = 4
    elif shape[0] % shape[1] == 0 and shape[0] // shape[1] in (1, 3, 4):
        gates = shape[0] // shape[1]
    else:
        return ""
    if gates == _kernels.GATES[module._kind.cell]:
        return ""
    kind = {1: "RNN", 3: "GRU", 4: "LSTM"}[gates] + ("" if suffix else "Cell")
    return (f"the weights look like {'an' if kind[0] in 'RL' else 'a'} {kind}'s "
            f"(weight_hh{suffix} of shape {shape}: {gates} gate{'s' if gates > 1 else ''} "
            f"of hidden_size {shape[0] // gates}), not {'an' if type(module).__name__[0] in 'RL' else 'a'} "
            f"{type(module).__name__}'s: load them into a crnn.{kind}")


def _fitting_arguments(module, name: str, shape: tuple) -> dict:
    """The constructor arguments (hidden_size, input_size, proj_size) that
    differ from ``module``'s and under which its parameter ``name`` would
    have ``shape``; a layer's later layers take no input_size."""
    base, G = name.split("_l")[0], _kernels.GATES[module._kind.cell]
    first = "_l" not in name or name.split("_l")[1].split("_")[0] == "0"
    fit = {}
    if base == "weight_hr" and len(shape) == 2:
        fit = dict(proj_size=shape[0], hidden_size=shape[1])
    elif shape and shape[0] % G == 0:
        fit["hidden_size"] = shape[0] // G
        if base == "weight_ih" and first and len(shape) == 2:
            fit["input_size"] = shape[1]
        if base == "weight_hh" and len(shape) == 2 and shape[1] != shape[0] // G:
            fit["proj_size"] = shape[1]
    return {k: v for k, v in fit.items() if v != getattr(module, k, 0)}


def _rows3(sl):
    """Index of an (L, N, F) sequence array for a batch slice."""
    return Ellipsis if sl is None else (slice(None), sl)


def _cols(out, sl, d, P):
    """Direction d's P columns of a batch slice (None: all of it) of the
    (L, N, D * P) output: out itself when that is all of it."""
    if sl is None and d == 0 and out.shape[-1] == P:
        return out
    cols = slice(d * P, (d + 1) * P)
    return out[..., cols] if sl is None else out[:, sl, cols]


@lru_cache(maxsize=64)
def _padded(steps: int, size: int) -> _kernels.Batch:
    """The kernels' padded batch of L steps of N sequences: one object per
    shape (a stream asks for the same one at every call, and the kernels
    remember the sizes of the last batch they saw)."""
    return _kernels.Batch(steps, size)


def _kept_input(x: np.ndarray) -> np.ndarray:
    """The copy of its input that a training forward keeps for backward: the
    caller may change their array (or tensor, or packed data) meanwhile."""
    return np.array(x, copy=True)


@lru_cache(maxsize=64)   # asked at every call, for the messages
def _state_name(kind: _Kind, i: int, suffix: str) -> str:
    return f"{kind.state_names[i]}{suffix}"


def _reserve(direction, batch, dtype) -> np.ndarray:
    """The buffer a training forward of one layer-direction fills for its
    backward."""
    return np.empty(direction.sizes(batch).reserve, dtype)


def _pair(states) -> list:
    """A per-state list [h] or [h, c] as the kernels take it: (h, c), c
    None but for LSTM."""
    return list(states) + [None] * (2 - len(states))


def _at(states, i: int, sl) -> tuple:
    """Layer-direction i's rows (a batch slice, None: all) of each
    (D * layers, N, F) state (the absent: None), as a pair (h, c)."""
    rows = i if sl is None else (i, sl)
    h, c = states[0], states[1] if len(states) > 1 else None
    return None if h is None else h[rows], None if c is None else c[rows]


class _SavedLayer(NamedTuple):
    """What a training forward keeps of one layer for backward."""
    plan: _schedule.LayerPlan
    inputs: list        # per piece: the input it read
    reserves: list      # per piece: its kernel reserve
    mask: np.ndarray | None   # the dropout applied to its output


class _SavedStep(NamedTuple):
    """What a cell's training forward keeps for backward."""
    batch: _kernels.Batch
    x: np.ndarray       # (1, N, I)
    reserve: np.ndarray
    h_given: bool
    batched: bool


class _Saved(NamedTuple):
    layers: list        # a _SavedLayer per layer
    layout: "_Layout"
    h0_given: bool
    out_shape: tuple


class RNNBase(Module):
    r"""Base of the multi-layer recurrent layers (RNN, LSTM, GRU).

    Shapes (torch's): ``input`` is (L, N, H_in), or (N, L, H_in) with
    ``batch_first=True``, or unbatched (L, H_in); ``h_0`` and ``h_n`` are
    (D * num_layers, N, H_out), or (D * num_layers, H_out) unbatched —
    ``batch_first`` never applies to them; an LSTM's ``c_0``/``c_n`` are
    likewise with H_cell = hidden_size; ``output`` is (L, N, D * H_out)
    (batch_first: (N, L, D * H_out)). D = 2 if bidirectional else 1;
    H_out = proj_size if proj_size > 0 else hidden_size.

    Parameters, per layer k and direction (suffix ``_reverse`` for the
    backward direction), in torch's order, names and shapes:
    ``weight_ih_l{k}`` (G * hidden_size, input_size for k = 0 else D *
    H_out), ``weight_hh_l{k}`` (G * hidden_size, H_out), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (G * hidden_size), and with projections
    ``weight_hr_l{k}`` (proj_size, hidden_size); G is the gate count (1
    RNN, 4 LSTM, 3 GRU). All are initialised from U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False,
                 proj_size=0, dtype=np.float32, *, seed=None, generator=None):
        super().__init__(dtype, seed, generator)
        self.mode = check_choice(mode, "mode", tuple(_CELLS))
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, "dropout")
        self.bidirectional = bool(bidirectional)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) \
                or proj_size < 0:
            raise ValueError(f"proj_size: expected a positive int, or zero to disable "
                             f"projections, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"proj_size: only LSTM supports projections, got "
                             f"proj_size={proj_size} for {mode}")
        if proj_size >= self.hidden_size:
            raise ValueError(f"proj_size: expected a value smaller than "
                             f"hidden_size={self.hidden_size}, got {proj_size}")
        self.proj_size = int(proj_size)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last "
                          "recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} "
                          f"and num_layers={num_layers}", stacklevel=3)
        self._kind = _Kind(_CELLS[self.mode], self.hidden_size, self.proj_size)
        _check_sizes(self._kind, max(self.input_size, self.num_directions * self._kind.out_size))
        specs = []
        for k in range(self.num_layers):
            for sfx in self._suffixes(k):
                specs += self._kind.param_specs(self._layer_input_size(k), self.bias, sfx)
        self._allocate(specs)
        self._derive()
        self._saved = None
        self.reset_parameters()

    _derived = ("_dirs", "_plans")
    _qtype = 0   # quantized weights (crnn.quantize): _kernels.QINT8 or QBF16

    def _derive(self) -> None:
        # the kernels' object of each layer-direction, in the order k * D + d
        self._dirs = [self._kind.direction(d == 1, self._layer_input_size(k), self._tensors,
                                           sfx, self._qtype)
                      for k in range(self.num_layers) for d, sfx in enumerate(self._suffixes(k))]
        self._plans = {}   # _plan's memo

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self, k: int):
        return [f"_l{k}", f"_l{k}_reverse"][:self.num_directions]

    def _layer_input_size(self, k: int) -> int:
        return self.input_size if k == 0 else self.num_directions * self._kind.out_size

    def reset_parameters(self) -> None:
        self._init_uniform(1.0 / math.sqrt(self.hidden_size))

    def _fitting_arguments(self, name, shape):
        return _fitting_arguments(self, name, shape)

    def _state_dict_hint(self, state_dict):
        return _kind_hint(self, state_dict)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
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
    def forward(self, input: ArrayLike | PackedSequence, hx: Any = None) -> tuple[Any, Any]:
        """``output, h_n = rnn(input, h_0=None)``; for LSTM
        ``output, (h_n, c_n) = lstm(input, (h_0, c_0))``. ``input`` may be a
        PackedSequence (``crnn.utils.rnn``); the output then is one too, and
        the states are in the caller's batch order. In training mode keeps
        what ``backward`` needs."""
        return self._run(self._forward, "forward", input, hx)

    def _forward(self, input, hx=None):
        kind, D, P = self._kind, self.num_directions, self._kind.out_size
        lay, s0 = self._plain_call(input, hx) or self._checked_call(input, hx)
        training = self.training
        x = _kept_input(lay.x) if training else lay.x
        out_user, out = lay.new_user_array(D * P, self.dtype)
        sn = [np.empty((D * self.num_layers, lay.N, F), self.dtype) for F in kind.state_sizes]
        saved, layer_in = [], x
        for k in range(self.num_layers):
            last = k == self.num_layers - 1
            layer_out = out if last else np.empty(x.shape[:-1] + (D * P,), self.dtype)
            kept = self._forward_layer(k, lay, layer_in, layer_out, s0, sn, training)
            mask = None
            if not last and training and self.dropout > 0:
                mask = self._dropout_mask(layer_out.shape)
            if training:
                saved.append(kept._replace(mask=mask))
            layer_in = layer_out if mask is None else layer_out * mask
        if training:   # an eval forward leaves a pending training forward alone
            self._saved = _Saved(saved, lay, hx is not None,
                                 np.shape(lay.data_of(out_user)))
        return out_user, kind.join_state(lay.states_out(sn))

    def _forward_layer(self, k, lay, layer_in, layer_out, s0, sn, training):
        """Layer k over the batch, its pieces as the plan places them; what
        backward needs of it (a _SavedLayer) in training, else None."""
        D, P = self.num_directions, self._kind.out_size
        plan = self._plan(lay, k, training)
        inputs, reserves = [None] * len(plan.pieces), [None] * len(plan.pieces)
        # inference over several steps reads the weights packed once
        # (one step reads them directly: cheaper than checking a copy)
        use_packed = not training and lay.L >= 2

        def piece(j, team):
            d, sl = plan.pieces[j]
            i = k * D + d
            # a batch slice gets its own contiguous input (one input GEMM)
            inputs[j] = layer_in if sl is None else np.ascontiguousarray(layer_in[:, sl])
            h0, c0 = _at(s0, i, sl)
            hn, cn = _at(sn, i, sl)
            batch = lay.batch_of(sl)
            reserves[j] = _reserve(self._dirs[i], batch, self.dtype) if training else None
            self._dirs[i].forward(batch, inputs[j], h0, c0, _cols(layer_out, sl, d, P),
                                  hn, cn, reserves[j], use_packed, team)
        _schedule.run(plan, piece)
        return _SavedLayer(plan, inputs, reserves, None) if training else None

    def _checked_call(self, input, hx):
        """(layout, initial states) of a call, every argument checked and
        converted."""
        lay = _Layout.of_input(self, input)
        return lay, self._states_in(hx, lay)

    def _plain_call(self, input, hx):
        """(layout, initial states) of the usual call, checked at once: a
        plain (L, N, input_size) array (not batch_first) within the 32-bit
        sizes, each state absent or a plain (D * num_layers, N, F) array;
        what _checked_call gives for them. None for anything else."""
        if self.batch_first or type(input) is not np.ndarray or input.ndim != 3:
            return None
        kind, dtype, (L, N, _) = self._kind, self.dtype, input.shape
        if L == 0 or input.size > INT_MAX or N * kind.gate_size > INT_MAX or \
                not is_plain(input, dtype, (L, N, self.input_size)):
            return None
        parts = kind.split_state(hx, "hx", ("h_0", "c_0"))
        S = len(self._dirs)   # D * num_layers
        for p, F in zip(parts, kind.state_sizes):
            if p is not None and not is_plain(p, dtype, (S, N, F)):
                return None
        return _Layout(input, True, False), parts

    def _states_in(self, hx, lay):
        """The initial state as a per-state list of (D * num_layers, N, F)
        arrays in kernel order (None: zeros)."""
        kind = self._kind
        parts = kind.split_state(hx, "hx", ("h_0", "c_0"))
        return [None if p is None else
                self._state_array(p, _state_name(kind, i, "_0"), lay, F)
                for i, (p, F) in enumerate(zip(parts, kind.state_sizes))]

    def _state_array(self, value, name, lay, F, what=""):
        """One state (or its gradient), given as the caller sees it, as a
        (D * num_layers, N, F) array in kernel order."""
        h = as_kernel_array(value, self.dtype, name)
        want = (self.num_directions * self.num_layers, lay.N, F)
        if lay.batched:
            if h.ndim != 3:
                raise ValueError(f"{name}: for batched 3-D input, {name} should "
                                 f"also be 3-D {want}, got {h.ndim}-D with shape {h.shape}")
            check_shape(h, name, want, what)
            return lay.state_in(h)
        if h.ndim != 2:
            raise ValueError(f"{name}: for unbatched 2-D input, {name} should also "
                             f"be 2-D {(want[0], want[2])}, got {h.ndim}-D with shape {h.shape}")
        check_shape(h, name, (want[0], want[2]), what)
        return h[:, None, :]

    def _plan(self, lay, k, training) -> _schedule.LayerPlan:
        """How layer k of this call runs on the threads (crnn._schedule),
        remembered per call shape: a stream asks the same at every call."""
        key = (k, lay.L, lay.N, lay.batch.rows, lay.packed is not None, training,
               get_num_threads(), _kernels.blas_rows())
        plan = self._plans.get(key)
        if plan is None:
            kind = self._kind
            plan = _schedule.plan(_schedule.LayerShape(
                self.num_directions, lay.L, lay.N, lay.batch.rows, lay.packed is not None,
                kind.gate_size, self._layer_input_size(k), kind.out_size, training,
                self._qtype), key[-2])
            if len(self._plans) >= 256:   # many shapes: start afresh
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _dropout_mask(self, shape):
        p = self.dropout
        keep = self.rng.random(shape, dtype=self.dtype) >= p
        return keep * (self.dtype.type(0) if p == 1 else self.dtype.type(1.0 / (1.0 - p)))

    # -- backward -----------------------------------------------------------
    def backward(self, grad_output: Any, grad_h_n: Any = None) -> tuple[Any, Any]:
        """Backpropagation through time after a training-mode forward.

        ``grad_output`` has the forward output's shape (a PackedSequence
        after a packed forward, or its data array; None: zeros, as when the
        loss uses only the final state); ``grad_h_n`` has h_n's
        (for LSTM a pair (grad_h_n, grad_c_n)); None means zeros. Adds the
        parameter gradients to each ``p.grad`` (until ``zero_grad()``) and
        returns ``(grad_input, grad_h_0)`` — for LSTM ``(grad_input,
        (grad_h_0, grad_c_0))`` — with grad_h_0 None when the forward was not
        given an initial state, and grad_input a PackedSequence after a
        packed forward. The forward's saved state is consumed: a second
        backward needs a new forward."""
        return self._run(self._backward, "backward", grad_output, grad_h_n)

    def _backward(self, grad_output, grad_h_n=None):
        s = self._saved
        if s is None:
            raise RuntimeError(_NO_FORWARD)
        kind, D, layers = self._kind, self.num_directions, self.num_layers
        lay = s.layout
        g = None
        if grad_output is not None:   # None: the loss does not use the output
            g = as_kernel_array(lay.grad_data(grad_output), self.dtype, "grad_output")
            check_shape(g, "grad_output", s.out_shape, " (the output's shape)")
        dsn = [None if p is None else
               self._state_array(p, "grad_" + _state_name(kind, i, "_n"), lay, F,
                                 " (the final state's shape)")
               for i, (p, F) in enumerate(zip(kind.split_state(grad_h_n, "grad_h_n"),
                                              kind.state_sizes))]
        self._saved = None

        dout = None if g is None else lay.to_kernel(g)
        ds0 = [np.zeros((D * layers, lay.N, F), self.dtype) if s.h0_given else None
               for F in kind.state_sizes]
        for k in reversed(range(layers)):
            dx_user, dx = self._backward_layer(k, s.layers[k], lay, dout, dsn, ds0)
            if k > 0:
                mask = s.layers[k - 1].mask
                dout = dx if mask is None else dx * mask
        if not s.h0_given:
            return dx_user, None
        return dx_user, kind.join_state([lay.state_out(t) for t in ds0])

    def _backward_layer(self, k, kept: _SavedLayer, lay, dout, dsn, ds0):
        """Layer k's backward, adding to its gradients and ds0: (what the
        caller gets as grad_input if k is 0, the kernels' view of it)."""
        D, P = self.num_directions, self._kind.out_size
        in_k = self._layer_input_size(k)
        if k == 0:
            dx_user, dx = lay.new_user_array(in_k, self.dtype, zeros=True)
        else:
            dx_user = dx = np.zeros(lay.x.shape[:-1] + (in_k,), self.dtype)
        # each direction sums its dx from zero, the two added after: the
        # same bits whether they ran side by side or one after the other
        dxs = [dx] + [np.zeros_like(dx)] * (D - 1)

        def piece(j, team):
            d, sl = kept.plan.pieces[j]
            i = k * D + d
            dhn, dcn = _at(dsn, i, sl)
            dh0, dc0 = _at(ds0, i, sl)
            self._dirs[i].backward(
                lay.batch_of(sl), kept.inputs[j], kept.reserves[j],
                None if dout is None else _cols(dout, sl, d, P), dhn, dcn,
                dxs[d][_rows3(sl)], dh0, dc0, team=team)
        _schedule.run(kept.plan, piece)
        if D == 2:
            dx += dxs[1]
        return dx_user, dx


class _Layout:
    """How the caller's batch maps onto the kernels' (L, N, F) or packed
    (R, F) arrays, both ways: the input, new outputs in the caller's layout
    (batch_first by strides), and states (packed: the caller's batch order
    against the kernels' sorted order)."""

    __slots__ = ("x", "batched", "batch_first", "packed", "batch_sizes", "N", "L", "batch")

    def __init__(self, x, batched, batch_first, packed=None):
        self.x = x                     # kernel view of the input
        self.batched = batched
        self.batch_first = batch_first
        self.packed = packed           # the PackedSequence given, or None
        if packed is not None:
            self.batch_sizes = packed.batch_sizes
            self.N = int(self.batch_sizes[0])
            self.L = len(self.batch_sizes)
        else:
            self.batch_sizes = None
            self.L, self.N = x.shape[0], x.shape[1]
        self.batch = (_padded(self.L, self.N) if packed is None else
                      _kernels.Batch(self.L, self.N, self.batch_sizes))

    def batch_of(self, sl):
        """The kernels' batch for a slice of the (padded) batch, or the
        whole one (None)."""
        return self.batch if sl is None else _padded(self.L, sl.stop - sl.start)

    @classmethod
    def of_input(cls, module, input):
        if isinstance(input, PackedSequence):
            x = as_kernel_array(input.data, module.dtype, "input.data")
            if x.ndim != 2 or x.shape[1] != module.input_size:
                raise ValueError(f"input.data: expected packed rows (sum of lengths, "
                                 f"{module.input_size}), got shape {x.shape}")
            check_rows(x.shape[0], int(input.batch_sizes[0]), module._kind.gate_size,
                       "input.data", x.shape)
            # checked again: the parts must agree, however it was built
            packed = PackedSequence(x, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
            return cls(x, True, False, packed)
        x = check_input(input, module.dtype, module.input_size, (2, 3), module._kind.gate_size)
        if x.shape[x.ndim - 2 if module.batch_first and x.ndim == 3 else 0] == 0:
            raise ValueError(f"input: expected a sequence length greater than 0, "
                             f"got shape {x.shape}")
        batched = x.ndim == 3
        bf = batched and module.batch_first
        return cls(x.transpose(1, 0, 2) if bf else (x if batched else x[:, None, :]),
                   batched, bf)

    def to_kernel(self, arr):
        """A caller-layout sequence array as the kernels' view."""
        if self.packed is not None:
            return arr
        if self.batch_first:
            return arr.transpose(1, 0, 2)
        return arr if self.batched else arr[:, None, :]

    def new_user_array(self, F, dtype, zeros=False):
        """(what the caller gets, the kernels' view of it) for a new sequence
        array of F features."""
        make = np.zeros if zeros else np.empty
        if self.packed is not None:
            data = make((self.x.shape[0], F), dtype)
            p = self.packed
            return PackedSequence._trusted(data, p.batch_sizes, p.sorted_indices,
                                           p.unsorted_indices), data
        if self.batch_first:
            user = make((self.N, self.L, F), dtype)
            return user, user.transpose(1, 0, 2)
        kern = make((self.L, self.N, F), dtype)
        return (kern if self.batched else kern[:, 0, :]), kern

    @staticmethod
    def data_of(user):
        return user.data if isinstance(user, PackedSequence) else user

    def grad_data(self, grad):
        """The array inside an output gradient; a PackedSequence must have
        the forward's batch sizes and order."""
        if isinstance(grad, PackedSequence):
            p = self.packed
            if p is None:
                raise TypeError("grad_output: got a PackedSequence, but the forward "
                                "input was not packed")
            if not np.array_equal(grad.batch_sizes, p.batch_sizes) or not (
                    (grad.sorted_indices is None and p.sorted_indices is None) or
                    (grad.sorted_indices is not None and p.sorted_indices is not None and
                     np.array_equal(grad.sorted_indices, p.sorted_indices))):
                raise ValueError("grad_output: expected the batch_sizes and "
                                 "sorted_indices of the forward's packed output")
            return grad.data
        return grad

    def state_in(self, h):
        """(D*layers, N, F) in the caller's batch order -> kernel order."""
        if self.packed is not None and self.packed.sorted_indices is not None:
            return h[:, self.packed.sorted_indices]
        return h

    def states_out(self, states: list) -> list:
        """state_out of each of a per-state list."""
        if self.packed is None and self.batched:   # as they are
            return states
        return [self.state_out(h) for h in states]

    def state_out(self, h):
        """(D*layers, N, F) in kernel order -> what the caller gets."""
        if self.packed is not None and self.packed.unsorted_indices is not None:
            return h[:, self.packed.unsorted_indices]
        return h if self.batched else h[:, 0, :]


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

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike = np.float32, *, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
                         input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, dtype, seed=seed, generator=generator)


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory RNN, as torch.nn.LSTM.

    For each element of the input sequence each layer computes

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)

    with the gates stacked i, f, g, o in ``weight_ih_l{k}`` (4 *
    hidden_size, ·). With ``proj_size > 0``, h_t = W_hr (o_t ⊙ tanh(c_t)):
    h has proj_size features and ``weight_hr_l{k}`` is (proj_size,
    hidden_size).

    ``lstm = LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
    dtype=np.float32, *, seed=None, generator=None)``;
    ``output, (h_n, c_n) = lstm(input, (h_0, c_0))`` (state optional:
    zeros); ``grad_input, (grad_h_0, grad_c_0) = lstm.backward(grad_output,
    (grad_h_n, grad_c_n))``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0,
                 dtype: DTypeLike = np.float32, *, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size, dtype,
                         seed=seed, generator=generator)


class GRU(RNNBase):
    r"""Multi-layer gated recurrent unit RNN, as torch.nn.GRU.

    For each element of the input sequence each layer computes

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    with the gates stacked r, z, n in ``weight_ih_l{k}`` (3 * hidden_size,
    ·). Same API as :class:`RNN` (without ``nonlinearity``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: DTypeLike = np.float32, *,
                 seed: int | None = None, generator: np.random.Generator | None = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, dtype,
                         seed=seed, generator=generator)


class RNNCellBase(Module):
    """Base of the single-step cells: one time step of one layer, batched
    (N, input_size) or unbatched (input_size,) input; parameters
    ``weight_ih`` (G * hidden_size, input_size), ``weight_hh`` (G *
    hidden_size, hidden_size), ``bias_ih``, ``bias_hh`` (G * hidden_size).
    A cell runs the layer kernels with one time step."""

    def __init__(self, cell, input_size, hidden_size, bias, dtype, seed, generator):
        super().__init__(dtype, seed, generator)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self._kind = _Kind(cell, self.hidden_size)
        _check_sizes(self._kind, self.input_size)
        self._allocate(self._kind.param_specs(self.input_size, self.bias))
        self._derive()
        self._saved = None
        self.reset_parameters()

    _derived = ("_dir",)
    _qtype = 0   # as RNNBase's

    def _derive(self) -> None:
        # the kernels' object of the cell's one layer-direction
        self._dir = self._kind.direction(False, self.input_size, self._tensors, "",
                                         self._qtype)

    def reset_parameters(self) -> None:
        self._init_uniform(1.0 / math.sqrt(self.hidden_size))

    def _fitting_arguments(self, name, shape):
        return _fitting_arguments(self, name, shape)

    def _state_dict_hint(self, state_dict):
        return _kind_hint(self, state_dict)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _cell_state(self, value, name, N, batched):
        h = as_kernel_array(value, self.dtype, name)
        check_shape(h, name, (N, self.hidden_size) if batched else (self.hidden_size,),
                    " (the input's batch, hidden_size)")
        return h if batched else h[None]

    def forward(self, input: ArrayLike, hx: Any = None) -> Any:
        """``h' = cell(input, hx=None)``; for LSTMCell ``(h', c') =
        cell(input, (h, c))``."""
        return self._run(self._forward, "forward", input, hx)

    def _checked_call(self, input, hx):
        """(x as (1, N, I), the states as (N, H) or None, batched) of a
        call, every argument checked and converted."""
        kind = self._kind
        x = check_input(input, self.dtype, self.input_size, (1, 2), kind.gate_size)
        batched = x.ndim == 2
        N = x.shape[0] if batched else 1
        parts = kind.split_state(hx, "hx", ("h", "c"))
        s0 = [None if p is None else self._cell_state(p, _state_name(kind, i, "x"), N, batched)
              for i, p in enumerate(parts)]
        return (x[None] if batched else x[None, None]), s0, batched

    def _plain_call(self, input, hx):
        """What _checked_call gives for the usual call, checked at once: a
        plain (N, input_size) or (input_size,) array within the 32-bit
        sizes, each state absent or a plain array of the matching shape.
        None for anything else."""
        if type(input) is not np.ndarray or not 1 <= input.ndim <= 2:
            return None
        batched = input.ndim == 2
        N = input.shape[0] if batched else 1
        if N * self._kind.gate_size > INT_MAX or not is_plain(
                input, self.dtype, (N, self.input_size) if batched else (self.input_size,)):
            return None
        parts = self._kind.split_state(hx, "hx", ("h", "c"))
        shape = (N, self.hidden_size) if batched else (self.hidden_size,)
        for p in parts:
            if p is not None and not is_plain(p, self.dtype, shape):
                return None
        if batched:
            return input[None], parts, True
        return input[None, None], [None if p is None else p[None] for p in parts], False

    def _forward(self, input, hx=None):
        kind = self._kind
        x3, s0, batched = self._plain_call(input, hx) or self._checked_call(input, hx)
        N = x3.shape[1]
        training = self.training
        if training:
            x3 = _kept_input(x3)
        sn = [np.empty((N, self.hidden_size), self.dtype) for _ in s0]
        batch = _padded(1, N)
        h0, c0 = _pair(s0)
        hn, cn = _pair(sn)
        reserve = _reserve(self._dir, batch, self.dtype) if training else None
        self._dir.forward(batch, x3, h0, c0, None, hn, cn, reserve)
        if training:   # an eval forward leaves a pending training forward alone
            self._saved = _SavedStep(batch, x3, reserve, hx is not None, batched)
        return kind.join_state(sn if batched else [s[0] for s in sn])

    def backward(self, grad: Any) -> tuple[Any, Any]:
        """After a training-mode forward: ``grad`` has the output's shape
        (for LSTMCell a pair (grad_h, grad_c), either may be None). Adds the
        parameter gradients and returns ``(grad_input, grad_hx)``; grad_hx
        is None when hx was not given, a pair for LSTMCell."""
        return self._run(self._backward, "backward", grad)

    def _backward(self, grad):
        if self._saved is None:
            raise RuntimeError(_NO_FORWARD)
        kind = self._kind
        batch, x3, reserve, h_given, batched = self._saved
        N = x3.shape[1]
        gs = [None if p is None else
              self._cell_state(p, "grad_" + _state_name(kind, i, ""), N, batched)
              for i, p in enumerate(kind.split_state(grad, "grad"))]
        self._saved = None
        dx = np.zeros(x3.shape, self.dtype)
        ds = [np.zeros((N, self.hidden_size), self.dtype) if h_given else None
              for _ in kind.state_sizes]
        dhn, dcn = _pair(gs)
        dh0, dc0 = _pair(ds)
        self._dir.backward(batch, x3, reserve, None, dhn, dcn, dx, dh0, dc0)
        grad_x = dx[0] if batched else dx[0, 0]
        if not h_given:
            return grad_x, None
        return grad_x, kind.join_state(ds if batched else [t[0] for t in ds])


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell, as torch.nn.RNNCell:
    :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})` (or ReLU).

    ``cell = RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh',
    dtype=np.float32, *, seed=None, generator=None)``; ``h1 = cell(x, h0=None)``
    with x (N, input_size) or (input_size,); ``grad_x, grad_h0 =
    cell.backward(grad_h1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: DTypeLike = np.float32, *,
                 seed: int | None = None, generator: np.random.Generator | None = None):
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        super().__init__(_kernels.RNN_TANH if nonlinearity == "tanh" else _kernels.RNN_RELU,
                         input_size, hidden_size, bias, dtype, seed, generator)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class LSTMCell(RNNCellBase):
    r"""An LSTM cell, as torch.nn.LSTMCell (gates i, f, g, o; see
    :class:`LSTM`): ``h1, c1 = cell(x, (h0, c0))`` (state optional: zeros);
    ``grad_x, (grad_h0, grad_c0) = cell.backward((grad_h1, grad_c1))``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: DTypeLike = np.float32, *, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__(_kernels.LSTM, input_size, hidden_size, bias, dtype, seed,
                         generator)


class GRUCell(RNNCellBase):
    r"""A GRU cell, as torch.nn.GRUCell (gates r, z, n; see :class:`GRU`):
    ``h1 = cell(x, h0=None)``; ``grad_x, grad_h0 = cell.backward(grad_h1)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: DTypeLike = np.float32, *, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__(_kernels.GRU, input_size, hidden_size, bias, dtype, seed,
                         generator)


# -- the Parameters sections of the layers' and cells' docstrings -------------
# One description per constructor argument; each class's section lists its
# own arguments in the order of its signature.
_ARGUMENT_DOCS = {
    "input_size": ("int", "Features of the input, H_in."),
    "hidden_size": ("int", "Features of the hidden state h (with proj_size: of the LSTM's "
                    "cell state c)."),
    "num_layers": ("int, default 1", "Recurrent layers stacked: each reads the output of "
                   "the one before."),
    "nonlinearity": ('{"tanh", "relu"}, default "tanh"', "The activation of the Elman "
                     "recurrence."),
    "bias": ("bool, default True", "Whether the layers have the biases b_ih and b_hh."),
    "batch_first": ("bool, default False", "Input and output are (N, L, H) instead of "
                    "(L, N, H); the states never are."),
    "dropout": ("float, default 0.0", "Probability of zeroing an element of each layer's "
                "output but the last's, in training mode (the rest scaled by 1/(1-p))."),
    "bidirectional": ("bool, default False", "Run each layer forwards and backwards and "
                      "join the two outputs: D = 2."),
    "proj_size": ("int, default 0", "If > 0, h is projected to proj_size features by "
                  "weight_hr_l{k} (H_out = proj_size)."),
    "dtype": ("{np.float32, np.float64}, default np.float32", "The parameters' dtype; "
              "input is converted to it."),
    "seed": ("int, optional", "Seed of the initialisation and the dropout masks (else "
             "the generator crnn.manual_seed sets)."),
    "generator": ("numpy.random.Generator, optional", "Generator of the initialisation "
                  "and the dropout masks (not with seed)."),
}


def _document_arguments(cls) -> None:
    """Append a numpydoc Parameters section for cls's constructor."""
    if not cls.__doc__:   # python -OO
        return
    names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
    lines = ["Parameters", "----------"]
    for name in names:
        kind, text = _ARGUMENT_DOCS[name]
        lines += [f"{name} : {kind}", textwrap.fill(text, 72, initial_indent="    ",
                                                     subsequent_indent="    ")]
    section = textwrap.indent("\n".join(lines), "    ")
    cls.__doc__ = f"{cls.__doc__.rstrip()}\n\n{section}\n"


for _cls in (RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell):
    _document_arguments(_cls)
