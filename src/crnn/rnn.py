"""Recurrent layers with torch.nn's API over NumPy arrays.

``RNNBase`` holds the one loop over layers and directions (stacking,
bidirection, inter-layer dropout) for every layer kind; ``RNNCellBase``
likewise for single-step cells, which run as layers of one step. Both
share ``_Recurrent``: one call path (every argument checked and
converted, the usual call's plain arrays passed at once), and the forward
and backward of one layer. Subclasses only say which cell kind they are.
All per-time-step work happens in the C core (``crnn._kernels``).

Around them: ``_kinds`` (the cell kinds), ``_layout`` (the caller's arrays
against the kernels'), ``_schedule`` (which thread runs which piece),
``_argdocs`` (the docstrings' Parameters sections).
"""
from __future__ import annotations

import math
import numbers
import warnings
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _kernels, _schedule
from ._argdocs import _document_arguments
from ._kinds import _CELLS, _Kind, _check_sizes, _fitting_arguments, _kind_hint
from ._layout import _at, _cols, _kept_input, _Layout, _reserve, _rows3
from ._module import Module
from ._threads import get_num_threads
from ._validate import (INT_MAX, as_kernel_array, check_choice, check_positive_int,
                        check_probability, check_shape, is_plain)
from .utils.rnn import PackedSequence

_NO_FORWARD = ("backward: expected a preceding forward in training mode "
               "(train(), then forward); none is pending — eval-mode forwards "
               "keep nothing, and each backward consumes its forward")


class _SavedLayer(NamedTuple):
    """What a training forward keeps of one layer for backward."""
    plan: _schedule.LayerPlan
    inputs: list        # per piece: the input it read
    reserves: list      # per piece: its kernel reserve
    mask: np.ndarray | None   # the dropout applied to its output


class _Saved(NamedTuple):
    """What a training forward keeps for backward."""
    layers: list        # a _SavedLayer per layer
    layout: _Layout
    h0_given: bool
    out_shape: tuple | None   # the output's (None: a cell's, whose output is its state)


class _Words(NamedTuple):
    """How a module's messages name the states of its calls."""
    pair: tuple         # an LSTM's state given as a pair: the two
    given: tuple        # each state given to forward
    grads_arg: str      # backward's argument holding the state gradients
    grads: tuple        # each state gradient
    what: tuple         # said of a state's expected shape: in forward, in backward


class _Recurrent(Module):
    """What layers and cells share: the cell kind (``_kind``), the
    kernels' object of each layer-direction (``_dirs``, in the order k * D +
    d), a call's arguments (``_plain_call`` for the usual call, checked at
    once against the shapes seen before; ``_checked_call`` for any other:
    each rule once), and the forward and backward of one layer over the
    call's batch, its pieces placed on threads by ``crnn._schedule``. A
    cell is a layer of one step (``_step``): one layer, one direction,
    states without the layer-directions axis."""

    _step = False       # a cell
    _directions = 1     # D (a layer's num_directions)
    _layers = 1         # a layer's num_layers
    _ranks: tuple       # the input's ranks, unbatched and batched
    _words: _Words
    _derived = ("_dirs", "_plans", "_shapes")
    _qtype = 0   # quantized weights (crnn.quantize): _kernels.QINT8 or QBF16

    def __call__(self, input: Any, hx: Any = None) -> Any:
        """``module(input, hx)`` is ``module.forward(input, hx)``."""
        return self.forward(input, hx)

    def _setup(self, kind: _Kind, widest_input: int) -> None:
        """The parameters of every layer-direction of ``kind``, initialised,
        and the kernels' objects over them (the end of __init__)."""
        self._kind = kind
        _check_sizes(kind, widest_input)
        self._allocate([spec for k in range(self._layers) for sfx in self._suffixes(k)
                        for spec in kind.param_specs(self._layer_input_size(k), self.bias,
                                                     sfx)])
        self._derive()
        self._saved = None
        self.reset_parameters()

    def _derive(self) -> None:
        # the kernels' object of each layer-direction, in the order k * D + d
        self._dirs = [self._kind.direction(d == 1, self._layer_input_size(k), self._tensors,
                                           sfx, self._qtype)
                      for k in range(self._layers) for d, sfx in enumerate(self._suffixes(k))]
        self._plans = {}   # _plan's memo
        self._shapes = {}  # _plain_call's: the input shapes seen

    def _suffixes(self, k: int):
        return [""]

    def _layer_input_size(self, k: int) -> int:
        return self.input_size

    def reset_parameters(self) -> None:
        self._init_uniform(1.0 / math.sqrt(self.hidden_size))

    def _fitting_arguments(self, name, shape):
        return _fitting_arguments(self, name, shape)

    def _state_dict_hint(self, state_dict):
        return _kind_hint(self, state_dict, self._suffixes(0)[0])

    # -- a call's arguments ---------------------------------------------------
    def _plain_call(self, input, hx):
        """What _checked_call gives for the usual call, checked at once: an
        input that check_input passes on as it is (an ndarray of the
        module's dtype, C-contiguous and aligned, of a shape that passed
        the shape rules before, which _plain_shapes remembers), each state
        absent or such an array of the shape _state_array wants. None for
        anything else."""
        if type(input) is not np.ndarray:
            return None
        shape = input.shape
        key = shape if self._step else (shape, self.batch_first)
        known = self._shapes.get(key)
        if known is None:
            if len(self._shapes) >= 64:   # many shapes: start afresh
                self._shapes.clear()
            known = self._shapes[key] = self._plain_shapes(shape)
        if not known or not is_plain(input, self.dtype, shape):
            return None
        lay, shapes = known
        s0 = self._kind.split_state(hx, "hx", self._words.pair)
        for i, p in enumerate(s0):
            if p is not None:
                if not is_plain(p, self.dtype, shapes[i]):
                    return None
                if not lay.batched:   # batched, they are the kernels' form as they are
                    s0[i] = lay.state_in(p)
        return lay, lay.to_kernel(input), s0

    def _plain_shapes(self, shape):
        """(layout, each state's shape) of an input of this shape that
        check_input passes (input_size features in the unbatched or batched
        rank, a layer's at least one step, within the 32-bit sizes), else
        False."""
        kind, ranks = self._kind, self._ranks
        batched = len(shape) == ranks[1]
        if not (batched or len(shape) == ranks[0]) or shape[-1] != self.input_size \
                or not 0 < math.prod(shape) <= INT_MAX \
                or (shape[-2] if batched else 1) * kind.gate_size > INT_MAX:
            return False
        lay = _Layout.of_shape(self, shape, batched)
        return lay, tuple(lay.state_shape(len(self._dirs), F) for F in kind.state_sizes)

    def _checked_call(self, input, hx):
        """(layout, the kernels' view of the input, initial states in the
        kernels' form, None: zeros) of any call, every argument checked and
        converted (the messages name what is wrong)."""
        lay, x = _Layout.checked(self, input)
        return lay, x, self._states_in(hx, lay)

    def _states_in(self, hx, lay):
        kind, w = self._kind, self._words
        parts = kind.split_state(hx, "hx", w.pair)
        return [None if p is None else self._state_array(p, w.given[i], lay, F, w.what[0])
                for i, (p, F) in enumerate(zip(parts, kind.state_sizes))]

    def _state_array(self, value, name, lay, F, what):
        """One state (or its gradient), given as the caller sees it, in the
        kernels' form."""
        h = as_kernel_array(value, self.dtype, name)
        want = lay.state_shape(len(self._dirs), F)
        if h.ndim != len(want) and not lay.step:
            raise ValueError(f"{name}: for {'batched 3' if lay.batched else 'unbatched 2'}-D "
                             f"input, {name} should also be {len(want)}-D {want}, got "
                             f"{h.ndim}-D with shape {h.shape}")
        check_shape(h, name, want, what)
        return lay.state_in(h)

    def _state_grads(self, grads, lay):
        """backward's state gradients in the kernels' form (None: zeros)."""
        kind, w = self._kind, self._words
        parts = kind.split_state(grads, w.grads_arg)
        return [None if p is None else self._state_array(p, w.grads[i], lay, F, w.what[1])
                for i, (p, F) in enumerate(zip(parts, kind.state_sizes))]

    def _take_saved(self) -> _Saved:
        if self._saved is None:
            raise RuntimeError(_NO_FORWARD)
        return self._saved

    # -- one layer ----------------------------------------------------------
    def _forward_layer(self, k, lay, layer_in, layer_out, s0, sn, training):
        """Layer k over the batch, its pieces as the plan places them, into
        layer_out (None: no output wanted, as a cell's) and sn; what
        backward needs of it (a _SavedLayer) in training, else None."""
        if lay.batch.rows == 1 and self._directions == 1:
            # a frame of one sequence (_schedule.ALONE): its one piece, the
            # whole batch of one direction, at once on this thread
            direction, reserve = self._dirs[k], None
            if training:
                reserve = _reserve(direction, lay.batch, self.dtype)
            h0, c0, hn, cn = _at(s0, sn, k, None, lay.step)
            direction.forward(lay.batch, layer_in, h0, c0, layer_out, hn, cn, reserve,
                              False, None)
            return _SavedLayer(_schedule.ALONE, [layer_in], [reserve], None) \
                if training else None
        plan = self._plan(lay, k, training)
        n = len(plan.pieces)
        inputs, reserves = [layer_in] * n, [None] * n
        if plan.here:   # its one piece, at once on this thread
            self._forward_piece(plan, k, lay, layer_out, s0, sn, training, inputs, reserves,
                                0, None)
        else:
            _schedule.run(plan, partial(self._forward_piece, plan, k, lay, layer_out, s0, sn,
                                        training, inputs, reserves))
        return _SavedLayer(plan, inputs, reserves, None) if training else None

    def _forward_piece(self, plan, k, lay, layer_out, s0, sn, training, inputs, reserves,
                       j, team):
        """Piece j of layer k's forward, on the thread the plan gives it:
        its input in inputs[j] (the layer's), its reserve into reserves[j]."""
        d, sl = plan.pieces[j]
        i = k * self._directions + d
        if sl is not None:   # a batch slice: its own contiguous input (one input GEMM)
            inputs[j] = np.ascontiguousarray(inputs[j][:, sl])
        batch, direction = lay.batch if sl is None else lay.batch_of(sl), self._dirs[i]
        if training:
            reserves[j] = _reserve(direction, batch, self.dtype)
        out = None if layer_out is None else _cols(layer_out, sl, d, self._kind.out_size)
        h0, c0, hn, cn = _at(s0, sn, i, sl, lay.step)
        # inference over several steps reads the weights packed once
        # (one step reads them directly: cheaper than checking a copy)
        direction.forward(batch, inputs[j], h0, c0, out, hn, cn, reserves[j],
                          not training and lay.L >= 2, team)

    def _backward_layer(self, k, kept: _SavedLayer, lay, dout, dsn, ds0):
        """Layer k's backward, adding to its gradients and ds0: (what the
        caller gets as grad_input if k is 0, the kernels' view of it)."""
        D, plan = self._directions, kept.plan
        in_k = self._layer_input_size(k)
        if k == 0:
            dx_user, dx = lay.new_user_array(in_k, self.dtype, zeros=True)
        else:
            dx_user = dx = np.zeros(lay.seq_shape(in_k), self.dtype)
        # each direction sums its dx from zero, the two added after: the
        # same bits whether they ran side by side or one after the other
        if plan is _schedule.ALONE:   # a frame's forward walked back: at once, directly
            dhn, dcn, dh0, dc0 = _at(dsn, ds0, k, None, lay.step)
            self._dirs[k].backward(lay.batch, kept.inputs[0], kept.reserves[0], dout, dhn, dcn,
                                   dx, dh0, dc0)
            return dx_user, dx
        dxs = [dx] + [np.zeros_like(dx)] * (D - 1)
        if plan.here:   # its one piece, at once on this thread
            self._backward_piece(k, kept, lay, dout, dsn, ds0, dxs, 0, None)
        else:
            _schedule.run(plan, partial(self._backward_piece, k, kept, lay, dout, dsn, ds0,
                                        dxs))
        if D == 2:
            dx += dxs[1]
        return dx_user, dx

    def _backward_piece(self, k, kept, lay, dout, dsn, ds0, dxs, j, team):
        """Piece j of layer k's backward, on the thread the plan gives it:
        the forward's piece j walked back, its dx into dxs[d]."""
        d, sl = kept.plan.pieces[j]
        i = k * self._directions + d
        dhn, dcn, dh0, dc0 = _at(dsn, ds0, i, sl, lay.step)
        self._dirs[i].backward(
            lay.batch_of(sl), kept.inputs[j], kept.reserves[j],
            _cols(dout, sl, d, self._kind.out_size), dhn, dcn, dxs[d][_rows3(sl)], dh0, dc0,
            team=team)

    def _plan(self, lay, k, training) -> _schedule.LayerPlan:
        """How layer k of this call runs on the threads (crnn._schedule),
        remembered per call shape: a stream asks the same at every call."""
        key = (k, lay.key, training, get_num_threads(), _kernels.blas_rows())
        plan = self._plans.get(key)
        if plan is None:
            kind = self._kind
            plan = _schedule.plan(_schedule.LayerShape(
                self._directions, lay.L, lay.N, lay.batch.rows, lay.packed is not None,
                kind.gate_size, self._layer_input_size(k), kind.out_size, training,
                self._qtype), key[-2])
            if len(self._plans) >= 256:   # many shapes: start afresh
                self._plans.clear()
            self._plans[key] = plan
        return plan


class RNNBase(_Recurrent):
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

    _ranks = (2, 3)
    _words = _Words(("h_0", "c_0"), ("h_0", "c_0"), "grad_h_n", ("grad_h_n", "grad_c_n"),
                    ("", " (the final state's shape)"))

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
        kind = _Kind(_CELLS[self.mode], self.hidden_size, self.proj_size)
        self._setup(kind, max(self.input_size, self.num_directions * kind.out_size))

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    _directions = num_directions
    _layers = property(lambda self: self.num_layers)

    def _suffixes(self, k: int):
        return [f"_l{k}", f"_l{k}_reverse"][:self.num_directions]

    def _layer_input_size(self, k: int) -> int:
        return self.input_size if k == 0 else self.num_directions * self._kind.out_size

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
        if not self.training:   # no lock: eval-mode forwards may overlap (Module._run)
            return self._forward(input, hx)
        return self._run(self._forward, "forward", input, hx)

    def _forward(self, input, hx=None):
        kind, D, P = self._kind, self.num_directions, self._kind.out_size
        lay, x, s0 = self._plain_call(input, hx) or self._checked_call(input, hx)
        training = self.training
        if training:
            x = _kept_input(x)
        out_user, out = lay.new_user_array(D * P, self.dtype)
        sn = lay.new_states(len(self._dirs), kind.state_sizes, self.dtype)
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
        s = self._take_saved()
        kind, D, layers = self._kind, self.num_directions, self.num_layers
        lay = s.layout
        g = None
        if grad_output is not None:   # None: the loss does not use the output
            g = as_kernel_array(lay.grad_data(grad_output), self.dtype, "grad_output")
            check_shape(g, "grad_output", s.out_shape, " (the output's shape)")
        dsn = self._state_grads(grad_h_n, lay)
        self._saved = None

        dout = None if g is None else lay.to_kernel(g)
        ds0 = (lay.new_states(D * layers, kind.state_sizes, self.dtype, zeros=True)
               if s.h0_given else [None] * len(kind.state_sizes))
        for k in reversed(range(layers)):
            dx_user, dx = self._backward_layer(k, s.layers[k], lay, dout, dsn, ds0)
            if k > 0:
                mask = s.layers[k - 1].mask
                dout = dx if mask is None else dx * mask
        if not s.h0_given:
            return dx_user, None
        return dx_user, kind.join_state(lay.states_out(ds0))


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


class RNNCellBase(_Recurrent):
    """Base of the single-step cells: one time step of one layer, batched
    (N, input_size) or unbatched (input_size,) input; parameters
    ``weight_ih`` (G * hidden_size, input_size), ``weight_hh`` (G *
    hidden_size, hidden_size), ``bias_ih``, ``bias_hh`` (G * hidden_size).
    A cell runs as a layer of one step, through the layers' kernels."""

    _step = True
    _ranks = (1, 2)
    _words = _Words(("h", "c"), ("hx", "cx"), "grad", ("grad_h", "grad_c"),
                    (" (the input's batch, hidden_size)",) * 2)

    def __init__(self, cell, input_size, hidden_size, bias, dtype, seed, generator):
        super().__init__(dtype, seed, generator)
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self._setup(_Kind(cell, self.hidden_size), self.input_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def forward(self, input: ArrayLike, hx: Any = None) -> Any:
        """``h' = cell(input, hx=None)``; for LSTMCell ``(h', c') =
        cell(input, (h, c))``."""
        if not self.training:   # no lock: eval-mode forwards may overlap (Module._run)
            return self._forward(input, hx)
        return self._run(self._forward, "forward", input, hx)

    def _forward(self, input, hx=None):
        lay, x, s0 = self._plain_call(input, hx) or self._checked_call(input, hx)
        training = self.training
        sn = lay.new_states(1, self._kind.state_sizes, self.dtype)
        kept = self._forward_layer(0, lay, _kept_input(x) if training else x, None, s0, sn,
                                   training)
        if training:   # an eval forward leaves a pending training forward alone
            self._saved = _Saved([kept], lay, hx is not None, None)
        return self._kind.join_state(lay.states_out(sn))

    def backward(self, grad: Any) -> tuple[Any, Any]:
        """After a training-mode forward: ``grad`` has the output's shape
        (for LSTMCell a pair (grad_h, grad_c), either may be None). Adds the
        parameter gradients and returns ``(grad_input, grad_hx)``; grad_hx
        is None when hx was not given, a pair for LSTMCell."""
        return self._run(self._backward, "backward", grad)

    def _backward(self, grad):
        s = self._take_saved()
        lay = s.layout
        dsn = self._state_grads(grad, lay)
        self._saved = None
        sizes = self._kind.state_sizes
        ds0 = (lay.new_states(1, sizes, self.dtype, zeros=True) if s.h0_given else
               [None] * len(sizes))
        dx_user, _ = self._backward_layer(0, s.layers[0], lay, None, dsn, ds0)
        if not s.h0_given:
            return dx_user, None
        return dx_user, self._kind.join_state(lay.states_out(ds0))


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


for _cls in (RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell):
    _document_arguments(_cls)
