"""The cell kinds (Elman tanh / ReLU, LSTM, GRU) as the shared loops of
layers and cells need them: gate counts, state names and sizes,
parameter names and shapes in torch's order, the kernels' object of one
layer-direction (with crnn.quantize's int8 / bfloat16 weights), and what
a state dict's shapes say of the kind and sizes it was made for."""
from __future__ import annotations

import numpy as np

from . import _kernels
from ._validate import INT_MAX

_CELLS = {"RNN_TANH": _kernels.RNN_TANH, "RNN_RELU": _kernels.RNN_RELU,
          "LSTM": _kernels.LSTM, "GRU": _kernels.GRU}

_ARTICLE_KIND = {_kernels.RNN_TANH: "an RNN", _kernels.RNN_RELU: "an RNN",
                 _kernels.LSTM: "an LSTM", _kernels.GRU: "a GRU"}


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


def _kind_hint(module, state_dict, suffix: str) -> str:
    """What a state dict's recurrent weights say it is, when that is another
    kind than ``module`` (an LSTM's weights for a GRU): its weight_hh has
    G * H rows for H columns, G the gate count (or an LSTM's projection).
    suffix: the first layer's ("_l0"), "" for a cell."""
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
