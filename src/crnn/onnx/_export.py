"""crnn modules to ONNX graphs, written with the onnx package alone.

A layer is one ONNX RNN / LSTM / GRU node per layer (both directions in
one node), run in ONNX's default layout (time first); ``batch_first`` adds
a Transpose at each end. An LSTM with projections has no ONNX operator:
each of its layer-directions is a ``Scan`` over the time steps whose body
is the cell with the projection inside. Batch and sequence length are
dynamic axes.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..rnn import RNNCellBase
from ._gates import ACTIVATIONS, TORCH_TO_ONNX, activation_key, op_of, reorder

OPSET = 17
_ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class _Graph:
    """Nodes, initializers, inputs and outputs of the graph being written."""

    def __init__(self, dtype, parent=None):
        self.dtype = np.dtype(dtype)
        self.elem = _ELEM[self.dtype]
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._root = parent._root if parent else self   # one name count per model
        self._count = 0

    def name(self, stem: str) -> str:
        self._root._count += 1
        return f"{stem}_{self._root._count}"

    def const(self, value, stem="c", dtype=None) -> str:
        name = self.name(stem)
        arr = np.asarray(value, dtype=dtype or self.dtype)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def ints(self, values) -> str:
        return self.const(list(values), "ints", np.int64)

    def node(self, op, inputs, n_out=1, **attrs):
        """Adds a node; returns its output name (or list of names)."""
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.name(op), **attrs))
        return outs[0] if n_out == 1 else outs

    def input(self, name, shape, elem=None) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem or self.elem, shape))
        return name

    def output(self, value, name, shape):
        self.nodes.append(helper.make_node("Identity", [value], [name], name=self.name("out")))
        self.outputs.append(helper.make_tensor_value_info(name, self.elem, shape))

    def model(self, doc: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "crnn", self.inputs, self.outputs, self.inits,
                                  doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="crnn")
        model.ir_version = 8
        return model


def export(module, path, *, initial_state=False, lengths=False) -> onnx.ModelProto:
    """Writes ``module`` (a crnn layer or cell) to ``path`` as an ONNX model
    and returns it. See the package docstring for inputs and outputs."""
    model = build(module, initial_state=initial_state, lengths=lengths)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return model


def build(module, *, initial_state=False, lengths=False) -> onnx.ModelProto:
    """The ONNX model of ``module`` that ``export`` writes (unchecked)."""
    op_of(module)   # refuses anything but a float layer or cell
    g = _Graph(module.dtype)
    if isinstance(module, RNNCellBase):
        if lengths:
            raise ValueError("lengths: a cell runs one step; it takes no sequence lengths")
        _cell(g, module, bool(initial_state))
    else:
        _layers(g, module, bool(initial_state), bool(lengths))
    return g.model(repr(module))


def _state_names(module):
    return ("h", "c") if op_of(module) == "LSTM" else ("h",)


def _layers(g: _Graph, m, initial_state: bool, lengths: bool):
    D, P = m.num_directions, m.proj_size or m.hidden_size
    sizes = {"h": P, "c": m.hidden_size}
    io_shape = ["batch", "seq"] if m.batch_first else ["seq", "batch"]
    x = g.input("input", io_shape + [m.input_size])
    if m.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    s0 = {s: g.input(f"{s}0", [D * m.num_layers, "batch", sizes[s]])
          for s in _state_names(m)} if initial_state else {}
    lens = g.input("lengths", ["batch"], TensorProto.INT32) if lengths else None
    finals = {s: [] for s in _state_names(m)}
    layer = _scan_layer if m.proj_size else _node_layer
    for k in range(m.num_layers):
        x, states = layer(g, m, k, x, s0, lens)
        for s in finals:
            finals[s].append(states[s])
    if m.batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    g.output(x, "output", io_shape + [D * P])
    for s, parts in finals.items():
        last = parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=0)
        g.output(last, f"{s}_n", [D * m.num_layers, "batch", sizes[s]])


def _direction_weights(m, op, suffix):
    """(W, R, B) of one layer-direction in ONNX's gate order; B None without bias."""
    sd = m.state_dict()
    w = [reorder(sd[f"{n}{suffix}"], op, TORCH_TO_ONNX) for n in ("weight_ih", "weight_hh")]
    if not m.bias:
        return w[0], w[1], None
    b = [reorder(sd[f"{n}{suffix}"], op, TORCH_TO_ONNX) for n in ("bias_ih", "bias_hh")]
    return w[0], w[1], np.concatenate(b)


def _recurrent(g: _Graph, m, suffixes, x, init, lens):
    """One ONNX RNN/LSTM/GRU node over x (L, N, I) for the layer-directions
    named by suffixes; init: {state: (D, N, F) value}. Returns the node's
    outputs Y (L, D, N, H), Y_h and, for LSTM, Y_c (D, N, H)."""
    op = op_of(m)
    ws = [_direction_weights(m, op, s) for s in suffixes]
    inputs = [x] + [g.const(np.stack([w[i] for w in ws]), "W R".split()[i]) for i in (0, 1)]
    inputs.append(g.const(np.stack([w[2] for w in ws]), "B") if m.bias else "")
    inputs += [lens or "", init.get("h", "")]
    if op == "LSTM":
        inputs.append(init.get("c", ""))
    attrs = dict(hidden_size=m.hidden_size, activations=ACTIVATIONS[activation_key(m)] * len(ws),
                 direction="bidirectional" if len(ws) == 2 else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    return g.node(op, inputs, 3 if op == "LSTM" else 2, **attrs)


def _node_layer(g: _Graph, m, k, x, s0, lens):
    D = m.num_directions
    init = {s: g.node("Slice", [v, g.ints([k * D]), g.ints([(k + 1) * D]), g.ints([0])])
            for s, v in s0.items()}
    outs = _recurrent(g, m, [f"_l{k}", f"_l{k}_reverse"][:D], x, init, lens)
    y = g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])          # (L, N, D, H)
    y = g.node("Reshape", [y, g.ints([0, 0, -1])])                 # (L, N, D * H)
    return y, dict(zip(_state_names(m), outs[1:]))


def _cell(g: _Graph, m, initial_state: bool):
    x = g.input("input", ["batch", m.input_size])
    init = {}
    for s in _state_names(m):
        if initial_state:
            init[s] = g.node("Unsqueeze", [g.input(f"{s}0", ["batch", m.hidden_size]),
                                           g.ints([0])])
    x = g.node("Unsqueeze", [x, g.ints([0])])                       # one step
    outs = _recurrent(g, m, [""], x, init, None)
    for s, out in zip(_state_names(m), outs[1:]):
        g.output(g.node("Squeeze", [out, g.ints([0])]), f"{s}1", ["batch", m.hidden_size])


# -- LSTM with projections: a Scan per layer-direction --------------------------
def _scan_layer(g: _Graph, m, k, x, s0, lens):
    """Layer k of a projected LSTM; x is (L, N, I). Each direction is a
    forward Scan; the reverse direction scans each sequence reversed within
    its length (ReverseSequence). Steps past a sequence's length keep the
    state and output zeros, as a packed sequence does."""
    mask = _step_mask(g, x, lens)
    lens64 = _lengths64(g, x, lens) if m.num_directions == 2 else None
    ys, finals = [], {"h": [], "c": []}
    for d in range(m.num_directions):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        i = k * m.num_directions + d
        init = [_initial(g, m, s0.get(s), i, x, F) for s, F in
                (("h", m.proj_size), ("c", m.hidden_size))]
        xw = _input_gates(g, m, sfx, x)
        if d:
            xw = g.node("ReverseSequence", [xw, lens64], batch_axis=1, time_axis=0)
        h, c, y = g.node("Scan", init + [xw, mask], 3, body=_scan_body(g, m, sfx),
                         num_scan_inputs=2)
        if d:
            y = g.node("ReverseSequence", [y, lens64], batch_axis=1, time_axis=0)
        ys.append(y)
        finals["h"].append(g.node("Unsqueeze", [h, g.ints([0])]))
        finals["c"].append(g.node("Unsqueeze", [c, g.ints([0])]))
    join = (lambda v: v[0]) if len(ys) == 1 else (lambda v: g.node("Concat", v, axis=0))
    y = ys[0] if len(ys) == 1 else g.node("Concat", ys, axis=2)
    return y, {s: join(v) for s, v in finals.items()}


def _lengths64(g: _Graph, x, lens):
    """The (N,) int64 sequence lengths: the lengths input, or L for all."""
    if lens is not None:
        return g.node("Cast", [lens], to=TensorProto.INT64)
    shape = g.node("Shape", [x])
    return g.node("Expand", [g.node("Slice", [shape, g.ints([0]), g.ints([1])]),
                             g.node("Slice", [shape, g.ints([1]), g.ints([2])])])


def _step_mask(g: _Graph, x, lens):
    """A (L, N, 1) bool: step t of sequence n is within its length."""
    shape = g.node("Shape", [x])
    if lens is None:
        ln1 = g.node("Concat", [g.node("Slice", [shape, g.ints([0]), g.ints([2])]),
                                g.ints([1])], axis=0)
        return g.node("Expand", [g.const(np.ones((1, 1, 1), bool), "true", bool), ln1])
    L = g.node("Squeeze", [g.node("Slice", [shape, g.ints([0]), g.ints([1])]), g.ints([0])])
    t = g.node("Range", [g.const(0, "zero", np.int64), L, g.const(1, "one", np.int64)])
    within = g.node("Less", [g.node("Unsqueeze", [t, g.ints([1])]),
                             g.node("Unsqueeze", [g.node("Cast", [lens], to=TensorProto.INT64),
                                                  g.ints([0])])])
    return g.node("Unsqueeze", [within, g.ints([2])])


def _initial(g: _Graph, m, s0, i, x, F):
    """The (N, F) initial state of layer-direction i: from the state input,
    or zeros of the input's batch."""
    if s0 is not None:
        return g.node("Squeeze", [g.node("Slice", [s0, g.ints([i]), g.ints([i + 1]),
                                                   g.ints([0])]), g.ints([0])])
    n = g.node("Slice", [g.node("Shape", [x]), g.ints([1]), g.ints([2])])
    zero = helper.make_tensor("zero", g.elem, [1], [0.0])
    return g.node("ConstantOfShape", [g.node("Concat", [n, g.ints([F])], axis=0)], value=zero)


def _input_gates(g: _Graph, m, sfx, x):
    """x W_ih^T + b_ih + b_hh for all steps at once: (L, N, 4H), torch's gate order."""
    sd = m.state_dict()
    xw = g.node("MatMul", [x, g.const(sd[f"weight_ih{sfx}"].T, "W_ih_T")])
    if m.bias:
        xw = g.node("Add", [xw, g.const(sd[f"bias_ih{sfx}"] + sd[f"bias_hh{sfx}"], "b")])
    return xw


def _scan_body(g: _Graph, m, sfx):
    """One step of a projected LSTM: (h, c, x gates, in-length) -> (h', c', y)."""
    sd, H = m.state_dict(), m.hidden_size
    b = _Graph(g.dtype, parent=g)       # names unique against the outer graph
    h = b.input("h", ["batch", m.proj_size])
    c = b.input("c", ["batch", H])
    xg = b.input("xg", ["batch", 4 * H])
    keep = b.input("in_length", ["batch", 1], TensorProto.BOOL)
    # outer-scope weights: the body reads the main graph's initializers
    w_hh, w_hr, split = (g.const(sd[f"weight_hh{sfx}"].T, "W_hh_T"),
                         g.const(sd[f"weight_hr{sfx}"].T, "W_hr_T"), g.ints([H] * 4))
    gates = b.node("Add", [xg, b.node("MatMul", [h, w_hh])])
    i, f, gg, o = b.node("Split", [gates, split], 4, axis=1)
    i, f, gg, o = (b.node(a, [v]) for a, v in (("Sigmoid", i), ("Sigmoid", f),
                                               ("Tanh", gg), ("Sigmoid", o)))
    c1 = b.node("Add", [b.node("Mul", [f, c]), b.node("Mul", [i, gg])])
    h1 = b.node("MatMul", [b.node("Mul", [o, b.node("Tanh", [c1])]), w_hr])
    zero = b.node("Constant", [], value=numpy_helper.from_array(np.zeros((), g.dtype)))
    b.output(b.node("Where", [keep, h1, h]), "h_out", ["batch", m.proj_size])
    b.output(b.node("Where", [keep, c1, c]), "c_out", ["batch", H])
    b.output(b.node("Where", [keep, h1, zero]), "y", ["batch", m.proj_size])
    return helper.make_graph(b.nodes, g.name("step"), b.inputs, b.outputs)
