"""ONNX models to crnn modules: a graph of RNN / LSTM / GRU nodes and the
glue around them, checked node by node, every tensor's size checked
against the bytes that hold it before it is read."""
from __future__ import annotations

import os
import types
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from .._errors import OnnxError
from . import _glue
from ._recurrent import build_module, run_node
from ._scan import load_projected_lstm

# a protobuf message cannot be larger; weights beyond go to external data
MAX_FILE_BYTES = (1 << 31) - 1
_DTYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
           TensorProto.FLOAT16: np.float16, TensorProto.INT64: np.int64,
           TensorProto.INT32: np.int32, TensorProto.INT8: np.int8,
           TensorProto.UINT8: np.uint8, TensorProto.BOOL: np.bool_}
_RECURRENT = ("RNN", "LSTM", "GRU")


def _where(node, i=None) -> str:
    name = node.name or (f"#{i}" if i is not None else "?")
    return f"node {name!r} ({node.op_type})"


def _parse(path) -> onnx.ModelProto:
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise OnnxError(f"path: {path!r} holds {size} bytes; an ONNX protobuf holds at "
                        f"most {MAX_FILE_BYTES} (larger weights go to external data)")
    with open(path, "rb") as f:
        data = f.read()
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:    # protobuf's DecodeError and its kin from the C parser
        raise OnnxError(f"path: {path!r} is not an ONNX model ({type(e).__name__}: "
                        f"{e})") from None
    if not model.graph.node:
        raise OnnxError(f"path: {path!r} holds no ONNX graph with nodes")
    return model


def _external_bytes(t, folder, what, expected) -> bytes:
    """The bytes of an external-data tensor, from a file inside folder only."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    root = os.path.realpath(folder)
    full = os.path.realpath(os.path.join(root, loc))
    if not loc or os.path.isabs(loc) or os.path.commonpath([root, full]) != root:
        raise OnnxError(f"{what}: external data location {loc!r} is outside the model's "
                        f"folder; crnn reads external data only from files inside it")
    try:
        offset, length = int(info.get("offset", 0)), int(info.get("length", expected))
    except ValueError:
        raise OnnxError(f"{what}: malformed external data offset or length") from None
    if not os.path.isfile(full):
        raise OnnxError(f"{what}: external data file {loc!r} is missing")
    if length != expected or offset < 0 or offset + length > os.path.getsize(full):
        raise OnnxError(f"{what}: external data of {length} bytes at offset {offset} in "
                        f"{loc!r} ({os.path.getsize(full)} bytes); the tensor needs "
                        f"{expected}")
    with open(full, "rb") as f:
        f.seek(offset)
        return f.read(length)


_FIELDS = ("float_data", "double_data", "int32_data", "int64_data")


def to_array(t, folder, what) -> np.ndarray:
    """A TensorProto as an ndarray, after checking that its declared shape
    and type agree with the data it carries."""
    if t.data_type not in _DTYPES:
        raise OnnxError(f"{what}: tensor type {t.data_type} is not one crnn reads "
                        f"(float, double, float16, int64/32/8, uint8, bool)")
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise OnnxError(f"{what}: negative dimension in shape {dims}")
    count = int(np.prod(dims, dtype=object))
    dtype = np.dtype(_DTYPES[t.data_type])
    if t.data_location == TensorProto.EXTERNAL:
        raw = _external_bytes(t, folder, what, count * dtype.itemsize)
    elif t.HasField("raw_data"):
        raw = t.raw_data
    else:
        field = next((getattr(t, f) for f in _FIELDS if len(getattr(t, f))), [])
        if len(field) != count:
            raise OnnxError(f"{what}: shape {dims} declares {count} values, the tensor "
                            f"holds {len(field)}")
        return np.array(field).astype(dtype).reshape(dims)
    if len(raw) != count * dtype.itemsize:
        raise OnnxError(f"{what}: shape {dims} of {dtype} declares {count * dtype.itemsize} "
                        f"bytes, the tensor holds {len(raw)}")
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)


def _attrs(node, folder, where) -> dict:
    out = {}
    for a in node.attribute:
        if not isinstance(a.name, str):   # a proto2 string of invalid UTF-8 reads as bytes
            raise OnnxError(f"{where}: an attribute name is not UTF-8: {a.name!r}")
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = to_array(a.t, folder, f"{where}: attribute {a.name}")
        elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            raise OnnxError(f"{where}: attribute {a.name} holds a subgraph; crnn reads "
                            f"graphs of recurrent nodes and glue only")
        else:
            v = helper.get_attribute_value(a)
            out[a.name] = [_text(x) for x in v] if isinstance(v, list) else _text(v)
    return out


def _text(v):
    """An attribute's bytes as text (other values as they are)."""
    return v.decode(errors="replace") if isinstance(v, bytes) else v


class _Step:
    """One node of the graph: a glue operator or a recurrent node on its module."""

    def __init__(self, node, where, fn):
        self.where, self.fn = where, fn
        self.inputs, self.outputs = list(node.input), list(node.output)

    def run(self, values: dict):
        try:
            outs = self.fn([values[n] if n else None for n in self.inputs])
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as e:
            raise OnnxError(f"{self.where}: {type(e).__name__}: {e}") from None
        for name, value in zip(self.outputs, outs):
            if name:
                values[name] = value


class OnnxModel(Sequence):
    """A loaded ONNX graph: the crnn modules of its recurrent nodes, in
    graph order (``model[i]``, ``len(model)``), and, called with the
    graph's inputs (positionally or by name), the graph's outputs: one
    array, or a tuple of them in the graph's order."""

    def __init__(self, input_names, output_names, steps, modules, constants):
        self.input_names, self.output_names = input_names, output_names
        self._steps, self._modules, self._constants = steps, modules, constants

    def __getitem__(self, i):
        return self._modules[i]

    def __len__(self):
        return len(self._modules)

    def __repr__(self):
        return (f"OnnxModel(inputs={self.input_names}, outputs={self.output_names}, "
                f"modules={self._modules})")

    def __call__(self, *args, **feeds):
        if len(args) > len(self.input_names):
            raise TypeError(f"expected at most {len(self.input_names)} inputs "
                            f"{self.input_names}, got {len(args)}")
        feeds = {**dict(zip(self.input_names, args)), **feeds}
        if set(feeds) != set(self.input_names):
            raise TypeError(f"inputs: expected {self.input_names}, got {sorted(feeds)}")
        values = dict(self._constants)
        values.update({k: np.asarray(v) for k, v in feeds.items()})
        for step in self._steps:
            step.run(values)
        outs = [values[n] for n in self.output_names]
        return outs[0] if len(outs) == 1 else tuple(outs)


def _recurrent_step(node, where, attrs, values):
    """The crnn module of a recurrent node and the function that runs the node."""
    ins = list(node.input) + [""] * (8 - len(node.input))
    if len(ins) > 8 or not ins[1] or not ins[2]:
        raise OnnxError(f"{where}: expected the inputs X, W, R and optionally B, "
                        f"sequence_lens, initial_h, initial_c, P; got {list(node.input)}")
    if ins[7]:
        raise OnnxError(f"{where}: input P (peepholes): crnn's LSTM has no peephole "
                        f"connections")
    for i, name in ((1, "W"), (2, "R"), (3, "B")):
        if ins[i] and ins[i] not in values:
            raise OnnxError(f"{where}: input {name} ({ins[i]!r}) is computed in the graph; "
                            f"crnn reads weights given as initializers or constants")
    module = build_module(node.op_type, attrs, [values.get(n) if n else None
                                                for n in ins[1:4]], where)
    lstm = node.op_type == "LSTM"
    reverse = attrs.get("direction") == "reverse"
    return module, lambda a: run_node(module, reverse, a[0], a[4] if len(a) > 4 else None,
                                      a[5] if len(a) > 5 else None,
                                      a[6] if lstm and len(a) > 6 else None)


def _constant(attrs, where):
    for key, make in (("value", np.asarray), ("value_float", np.float32),
                      ("value_floats", lambda v: np.array(v, np.float32)),
                      ("value_int", np.int64), ("value_ints", lambda v: np.array(v, np.int64))):
        if key in attrs:
            return make(attrs[key])
    raise OnnxError(f"{where}: expected a value, value_float(s) or value_int(s) attribute, "
                    f"got {sorted(attrs)}")


def _node_step(node, i, folder, values, modules):
    """The step for node i (None for a Constant, whose value goes to values)."""
    where = _where(node, i)
    if node.domain not in ("", "ai.onnx"):
        raise OnnxError(f"{where}: operator domain {node.domain!r}: crnn reads the "
                        f"default ONNX domain only")
    if node.op_type not in _glue.OPS and node.op_type not in _RECURRENT + ("Constant",):
        raise OnnxError(f"{where}: operator {node.op_type} is neither a recurrent node "
                        f"(RNN, LSTM, GRU) nor the glue crnn runs around them "
                        f"({', '.join(sorted(_glue.OPS))}, Constant)")
    attrs = _attrs(node, folder, where)
    if node.op_type == "Constant":
        values[node.output[0]] = _constant(attrs, where)
        return None
    if node.op_type in _RECURRENT:
        module, fn = _recurrent_step(node, where, attrs, values)
        modules.append(module)
        return _Step(node, where, fn)
    op = _glue.OPS[node.op_type]
    return _Step(node, where, lambda a: op(attrs, a))


def _check_names(g):
    """Every name in the graph is text: a proto2 string field holding
    invalid UTF-8 reads as bytes."""
    names = [v.name for v in list(g.input) + list(g.output) + list(g.initializer)]
    for node in g.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output]
    bad = next((n for n in names if not isinstance(n, str)), None)
    if bad is not None:
        raise OnnxError(f"graph: the name {bad!r} is not UTF-8 text")


def _check_defined(g, initializers):
    """Every node input and graph output is a graph input, an initializer
    or an earlier node's output (ONNX's topological order)."""
    defined = {v.name for v in g.input} | set(initializers)
    for i, node in enumerate(g.node):
        for name in node.input:
            if name and name not in defined:
                raise OnnxError(f"{_where(node, i)}: input {name!r} is neither a graph "
                                f"input, an initializer nor an earlier node's output")
        defined.update(node.output)
    for v in g.output:
        if v.name not in defined:
            raise OnnxError(f"graph: output {v.name!r} is computed by no node")


def load(path) -> OnnxModel:
    """The ONNX model at path as an OnnxModel (see the package docstring)."""
    path = os.fspath(path)
    model = _parse(path)
    folder = os.path.dirname(os.path.abspath(path))
    g = model.graph
    _check_names(g)
    if len(g.sparse_initializer):
        raise OnnxError("graph: sparse initializers are not read by crnn")
    values = {t.name: to_array(t, folder, f"initializer {t.name!r}") for t in g.initializer}
    _check_defined(g, values)
    inputs = [v.name for v in g.input if v.name not in values]
    if any(node.op_type == "Scan" for node in g.node):   # crnn's projected LSTM
        module, run = load_projected_lstm(model, values, f"path: {path!r}")
        names = types.SimpleNamespace(input=inputs, output=[v.name for v in g.output])
        return OnnxModel(inputs, names.output, [_Step(names, repr(module), run)], [module],
                         {})
    modules, steps = [], []
    for i, node in enumerate(g.node):
        step = _node_step(node, i, folder, values, modules)
        if step is not None:
            steps.append(step)
    if not modules:
        raise OnnxError(f"path: {path!r} holds no RNN, LSTM or GRU node")
    return OnnxModel(inputs, [v.name for v in g.output], steps, modules, values)
