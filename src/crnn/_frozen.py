"""Serving a module a frame at a time: ``crnn.freeze``.

    f = crnn.freeze(lstm)              # a private copy of the weights, packed once
    for frame in stream:               # (N, input_size) frames, say
        out, (h, c) = f(frame[None])   # the state carried inside f
    f.reset()                          # a new stream: zero state

A frozen module fixes what a module checks again at every call: its
weights (copied and packed once, when it is frozen), its input's shape,
dtype and layout (fixed at the first call, or given up front), the
buffers its results go to (its own), and the plan of its threads. A call
then checks the input (and a state given) against the fixed shape in C
and runs every layer-direction's core call in one stretch without the
GIL (``_kernels.FrozenCore``). Anything the fast check does not pass —
another dtype or layout, a list, a tensor — takes the module's own checks
and conversion (the same messages), then the same path.
"""
from __future__ import annotations

import contextlib
import copy
import math
import pickle

import numpy as np

from . import _kernels, _threads
from ._layout import _Layout
from ._module import Module, construct
from .quantize import _kind_of, _Quantized
from .rnn import RNNBase, RNNCellBase
from .utils.rnn import PackedSequence

__all__ = ["freeze", "Frozen"]


def _clone(module, read_only=True):
    """A private copy of module, built by its kind's constructor (a subclass
    of LSTM: LSTM's) from its arguments and given its weights, in eval mode,
    its weights read-only (as a frozen module keeps them)."""
    kind, gen = _kind_of(module), module._generator
    clone = construct(kind, module._arguments(kind), None if gen is None else copy.deepcopy(gen))
    clone.load_state_dict(module.state_dict())
    clone.eval()
    if read_only:
        for p in clone.parameters():
            p.data.flags.writeable = False
    return clone


def _name(module) -> str:
    """The module's kind as its users know it (a quantized LSTM: LSTM)."""
    return (module.float_class if isinstance(module, _Quantized) else type(module)).__name__


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class Frozen(_kernels.FrozenCore):
    """A module frozen for serving (``crnn.freeze``): inference only, its
    weights a private copy packed once when it was made — changing the
    module it came from afterwards has no effect on it — its input shape
    fixed at its first call (or given as ``input_shape``), its state
    carried from call to call.

    ``f(input, hx=None, *, out=None)`` returns what the module returns for
    that input (a layer: ``output, h_n`` or ``output, (h_n, c_n)``; a cell:
    ``h'`` or ``(h', c')``), as read-only views of buffers the frozen
    module owns: the same arrays at every call, overwritten by the next
    (copy what you keep, or pass ``out=``: arrays of the same structure,
    shapes and dtypes that the results are copied into, and which the call
    then returns). Without ``hx`` a call starts from the state the last
    call left (zeros at first, and after ``reset()``); with ``hx`` it starts
    from that, and carries on from its result.

    One call at a time: a call while another thread's call on the same
    frozen module runs raises ``RuntimeError`` (nothing is computed or
    overwritten). Give each thread (each stream) its own:
    ``copy.copy(f)`` shares the packed weights and has its own buffers and
    state. Pickling, ``copy.deepcopy``, ``crnn.save`` / ``state_dict`` and
    ``load_state_dict`` work as for the module it came from (a pickle keeps
    the fixed shape and the carried state too).
    """

    def __init__(self, module, input_shape=None, *, _adopt=False, _fixed=None, _state=None):
        # _adopt: module is a private copy already (another frozen module's,
        # shared by copy.copy, or unpickled), taken as it is; _fixed: whether
        # input_shape was fixed when frozen (default: given) rather than at a
        # first call; _state: the carried state to start from (default zeros)
        if not isinstance(module, (RNNBase, RNNCellBase)):
            raise TypeError(f"module: expected an RNN, LSTM, GRU, RNNCell, LSTMCell or "
                            f"GRUCell (float or crnn.quantize's), got "
                            f"{type(module).__name__}")
        self._module = module if _adopt else _clone(module)
        self._cell = isinstance(module, RNNCellBase)
        self._input_shape = None
        self._lock_shape = input_shape is not None if _fixed is None else _fixed
        if input_shape is not None:
            shape = tuple(int(s) for s in np.atleast_1d(input_shape))
            self._bind_shape(self._converted(np.zeros(shape, self._module.dtype), None)[0])
            for s, v in zip(self._states, _state or ()):
                s[...] = v

    # -- what a call is checked against -------------------------------------
    def _converted(self, x, hx):
        """(x, [state or None]) as the module checks and converts them, x in
        the caller's layout (C-contiguous), each state in the shape the
        caller gives it; the module's messages for what it refuses."""
        m = self._module
        if isinstance(x, PackedSequence):
            raise TypeError("input: a frozen module takes arrays of one fixed shape, not a "
                            "PackedSequence; call the module itself for packed batches")
        lay, xk, s0 = m._checked_call(x, hx)
        return lay.user_of(xk), [None if s is None else lay.state_out(s) for s in s0]

    def _bind_shape(self, xu: np.ndarray) -> None:
        """Fix the input shape (xu's) and build the buffers and the chain."""
        m, shape = self._module, xu.shape
        kind, dtype = m._kind, m.dtype
        F = kind.state_sizes
        if self._cell:
            batched = len(shape) == 2
            L, N, D, layers, S = 1, shape[0] if batched else 1, 1, 1, 1
            bf = False
        else:
            batched = len(shape) == 3
            bf = batched and m.batch_first
            L, N = (shape[1], shape[0]) if bf else (shape[0], shape[1] if batched else 1)
            D, layers, S = m.num_directions, m.num_layers, len(m._dirs)
        I, P = m.input_size, kind.out_size
        x_st, x_sn = (I, L * I) if bf else (N * I, I)
        states = tuple(np.zeros((S, N, f), dtype) for f in F)
        nexts = tuple(np.zeros((S, N, f), dtype) for f in F)
        outs, kern_outs = [], []
        for k in range(layers):
            last = k == layers - 1
            if self._cell:
                # a cell's output is its next state
                outs.append((None, N * P, P, P))
                kern_outs.append(None)
                continue
            if last and bf:
                user = np.zeros((N, L, D * P), dtype)
                outs.append((user, D * P, L * D * P, P))
                kern_outs.append(user.transpose(1, 0, 2))
            else:
                user = np.zeros((L, N, D * P), dtype)
                outs.append((user, N * D * P, D * P, P))
                kern_outs.append(user)
        if self._cell:
            sshapes = tuple((N, f) if batched else (f,) for f in F)
            views = [_read_only(s[0] if batched else s[0, 0]) for s in states]
            result = kind.join_state(views)
        else:
            sshapes = tuple((S, N, f) if batched else (S, f) for f in F)
            views = [_read_only(s if batched else s[:, 0, :]) for s in states]
            final = outs[-1][0]
            out_view = _read_only(final if batched else final[:, 0, :])
            result = (out_view, kind.join_state(views))
        self._input_shape = shape
        self._L, self._N = L, N
        self._states, self._nexts, self._kern_outs = states, nexts, kern_outs
        self._result = result
        self._bind_args = (tuple(m._dirs), D,
                           _kernels.Batch(L, N), shape, x_st, x_sn, tuple(outs), states,
                           nexts, sshapes, result, _threads)
        self._rebind()

    def _rebind(self) -> None:
        """(Re)build the chain: at binding, after a change of the
        instruction set (the packed weights follow it) or of the thread
        count (whose plan may split the work)."""
        self._bind(*self._bind_args)
        self._isa = _kernels.isa_active()
        self.threads = _threads.get_num_threads()
        # the chain runs the layer-directions one after the other on this
        # thread: what the plan does unless it splits or shares the work
        self.fast = self._cell or not any(p.team or p.parallel for p in self._plans())

    def _plans(self):
        m = self._module
        lay = _Layout(self._L, self._N)
        return [m._plan(lay, k, False) for k in range(m.num_layers)]

    # -- the call ----------------------------------------------------------
    def _call(self, x, hx, out):
        """Every call the C check does not take: a first call, another
        layout or dtype (converted as the module converts it), a thread
        count or instruction set changed since, ``out=``."""
        xu, s0 = self._converted(x, hx)
        if self._input_shape is None:
            self._bind_shape(xu)
        elif xu.shape != self._input_shape:
            when = "when it was frozen" if self._lock_shape else "at its first call"
            raise ValueError(f"input: this frozen {_name(self._module)} takes shape "
                             f"{self._input_shape} (fixed {when}), got {xu.shape}; freeze "
                             f"the module again for another shape")
        if self.threads != _threads.get_num_threads() or self._isa != _kernels.isa_active():
            self._rebind()
        given = None if s0[0] is None else (s0[0] if len(s0) == 1 else tuple(s0))
        if not self.fast:
            result = self._scheduled(xu, s0)
        else:
            # a call of many rows may reach BLAS: SciPy's OpenBLAS on one
            # thread meanwhile, as in the module's calls (_schedule.run)
            least = _kernels.blas_rows()
            blas = least > 0 and math.prod(xu.shape[:-1]) >= least
            with _threads.blas_held() if blas else contextlib.nullcontext():
                result = self._try(xu, given)
                if result is None:   # a state the module passed on as a view: made plain
                    given = None if given is None else (
                        np.ascontiguousarray(given) if len(s0) == 1 else
                        tuple(np.ascontiguousarray(s) for s in given))
                    result = self._try(np.ascontiguousarray(xu), given)
            if result is None:
                raise RuntimeError("crnn.freeze: a checked input was not taken (a bug)")
        if out is not None:
            return self._copy_out(result, out)
        return result

    def _scheduled(self, xu, s0):
        """The call through the module's own plan (batch slices, the two
        directions side by side, or a helper thread), into the owned
        buffers."""
        m = self._module
        self._enter()
        try:
            xk = xu.transpose(1, 0, 2) if m.batch_first and xu.ndim == 3 else (
                xu if xu.ndim == 3 else xu[:, None, :])
            lay = _Layout(xk.shape[0], xk.shape[1])
            s0k = [None if s is None else (s if s.ndim == 3 else s[:, None, :])
                   for s in s0]
            s0k = [s if s is not None else cur for s, cur in zip(s0k, self._states)]
            layer_in = xk
            for k in range(m.num_layers):
                m._forward_layer(k, lay, layer_in, self._kern_outs[k], s0k,
                                 list(self._nexts), False)
                layer_in = self._kern_outs[k]
            for cur, nxt in zip(self._states, self._nexts):
                cur[...] = nxt
        finally:
            self._leave()
        return self._result

    def _copy_out(self, result, out):
        def pairs(r, o, name):
            if isinstance(r, tuple):
                if not isinstance(o, tuple) or len(o) != len(r):
                    raise TypeError(f"{name}: expected a tuple of {len(r)} like the "
                                    f"call's result, got {type(o).__name__}")
                for i, (ri, oi) in enumerate(zip(r, o)):
                    yield from pairs(ri, oi, f"{name}[{i}]")
                return
            if type(o) is not np.ndarray or o.shape != r.shape or o.dtype != r.dtype \
                    or not o.flags.writeable:
                raise ValueError(f"{name}: expected a writable {r.dtype} array of shape "
                                 f"{r.shape}, got "
                                 f"{getattr(o, 'dtype', type(o).__name__)} "
                                 f"{getattr(o, 'shape', '')}")
            yield r, o
        todo = list(pairs(result, out, "out"))
        for r, o in todo:
            np.copyto(o, r)
        return out

    # -- state -------------------------------------------------------------
    @property
    def input_shape(self) -> tuple | None:
        """The input shape a call takes (None until the first call)."""
        return self._input_shape

    @property
    def state(self):
        """The carried state, as a call returns it (read-only views; None
        before the first call)."""
        if self._input_shape is None:
            return None
        return self._result if self._cell else self._result[1]

    def reset(self) -> None:
        """Zero the carried state: the next call starts a new stream."""
        if self._input_shape is None:
            return
        self._enter()
        try:
            for s in self._states:
                s[...] = 0
        finally:
            self._leave()

    # -- as the module it came from ----------------------------------------
    @property
    def module(self):
        """A copy of the module the weights came from, in eval mode
        (changing it changes nothing here)."""
        return _clone(self._module, read_only=False)

    def state_dict(self) -> dict:
        """The weights, as the module's ``state_dict()``."""
        return self._module.state_dict()

    def load_state_dict(self, state_dict, strict: bool = True):
        """New weights (checked as the module checks them), packed now; the
        input shape stays, the carried state is zeroed."""
        clone = self.module
        keys = clone.load_state_dict(state_dict, strict)
        self._enter()
        self._leave()
        self._module = _clone(clone)
        if self._input_shape is not None:
            self._bind_shape(np.zeros(self._input_shape, self._module.dtype))
        return keys

    def __getattr__(self, name):
        # the module's settings (input_size, hidden_size, ...) and weights
        if name.startswith("_") or "_module" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["_module"], name)

    def __repr__(self):
        shape = (f"input shape {self._input_shape}" if self._input_shape is not None
                 else "input shape fixed at the first call")
        return (f"crnn.freeze({self._module!r}; {shape}; weights: a private copy packed "
                f"when frozen, the source module's later changes have no effect)")

    def __reduce__(self):
        state = None if self._input_shape is None else [s.copy() for s in self._states]
        return _unfreeze, (self._module, self._input_shape, self._lock_shape, state)

    def __copy__(self):
        """A new frozen module on the same packed weights, with its own
        buffers and a zero state (another stream)."""
        return Frozen(self._module, self._input_shape, _adopt=True, _fixed=self._lock_shape)

    def __deepcopy__(self, memo):
        return pickle.loads(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))


def _unfreeze(module, input_shape, lock_shape, state):
    """A pickled frozen module: its unpickled (private) module, shape and state."""
    for p in module.parameters():
        p.data.flags.writeable = False
    module.training = False
    return Frozen(module, input_shape, _adopt=True, _fixed=lock_shape, _state=state)


def freeze(module: Module, input_shape: tuple | None = None) -> Frozen:
    """A serving object for ``module``: inference only, a frame at a time.

    Parameters
    ----------
    module : RNN, LSTM, GRU, RNNCell, LSTMCell or GRUCell
        float32 or float64, or int8 / bfloat16 from ``crnn.quantize``; any
        layers, directions, ``proj_size``, ``batch_first``. Its weights are
        copied and packed now: changing ``module`` afterwards has no effect
        on the frozen one (freeze it again).
    input_shape : tuple of int, optional
        The shape every call's input has, as the module takes it (batched
        or not). Default: the first call's.

    Returns
    -------
    Frozen
        Called as the module is, ``f(input, hx=None, *, out=None)``, with
        the state carried inside it from call to call (``f.reset()`` zeroes
        it; ``hx`` given: the call starts from it). Results are read-only
        views of buffers ``f`` owns, overwritten by the next call.

    Notes
    -----
    What a module checks at every call, a frozen one checks once: a call
    compares the input (and a state given) with the fixed shape, dtype and
    layout in C — a plain C-contiguous array of the module's dtype — and
    runs every layer-direction in one stretch without the GIL. Other input
    (a list, another dtype or layout, a tensor) is checked and converted as
    the module does it, with the module's messages; another shape is
    refused. The outputs are the same bits as the module's for the same
    frames. One call at a time per frozen module (``copy.copy(f)`` for
    another thread or stream); packed sequences and training are the
    module's.

    Examples
    --------
    >>> import numpy as np, crnn
    >>> f = crnn.freeze(crnn.GRUCell(8, 16, seed=0))
    >>> h = f(np.ones((1, 8), np.float32))       # state carried inside f
    >>> h = f(np.ones((1, 8), np.float32))
    >>> h.shape, f.input_shape
    ((1, 16), (1, 8))
    """
    if isinstance(module, Frozen):
        raise TypeError("module: already frozen (copy.copy(frozen) gives another)")
    return Frozen(module, input_shape)
