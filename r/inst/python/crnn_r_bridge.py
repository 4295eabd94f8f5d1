"""The Python side of crnn's R package: arrays cross as bytes, names as R torch's.

R hands an array over as ``{"array": bytearray, "dim": [...], "type": t}``:
the bytes of R's own vector (little-endian float64 for ``double``, int32
for ``integer``) in R's column-major order, so that ``x[i, j, k]`` in R is
``a[i-1, j-1, k-1]`` here, no transposition. Arrays go back to R the same
way (float arrays as float64: a float32 value is a double exactly). No
NumPy array crosses reticulate itself, so any NumPy version works.

R lists arrive as Python lists (unnamed) or dicts (named); a packed batch
as ``{"packed": ...}``. Every entry point returns ``{"value": result}`` or
``{"error": kind, "message": text}``: R turns the latter into its own
condition, never a Python traceback.
"""
from __future__ import annotations

import re

import numpy as np

import crnn
from crnn.utils import rnn as rnn_utils

_LAYER = re.compile(r"_l(\d+)(?=_|$)")          # in a parameter name
_LAYER_IN_TEXT = re.compile(r"(?<=\w)_l(\d+)(?!\d)")   # in a message


def r_name(name: str) -> str:
    """torch's parameter name -> R torch's (one-based layers)."""
    return _LAYER.sub(lambda m: f"_l{int(m.group(1)) + 1}", name)


def py_name(name: str) -> str:
    """R torch's parameter name -> torch's (zero-based layers)."""
    def down(m):
        k = int(m.group(1))
        if k < 1:
            raise KeyError(f"{name!r}: R layers are numbered from 1")
        return f"_l{k - 1}"
    return _LAYER.sub(down, name)


# -- values crossing --------------------------------------------------------
def from_r(value):
    """What R sent -> Python: arrays, PackedSequences, tuples, dicts."""
    if isinstance(value, dict):
        if "array" in value and "dim" in value:
            dtype = "<f8" if value["type"] == "double" else "<i4"
            dims = value["dim"]
            shape = tuple(int(d) for d in (dims if isinstance(dims, list) else [dims]))
            a = np.frombuffer(value["array"], dtype=dtype)
            # column-major: R's x[i, j, k] is a[i-1, j-1, k-1]
            return np.ascontiguousarray(a.reshape(shape, order="F"))
        if "packed" in value:
            p = value["packed"]
            idx = [None if p[k] is None else from_r(p[k]).astype(np.int64) - 1
                   for k in ("sorted_indices", "unsorted_indices")]
            return rnn_utils.PackedSequence(from_r(p["data"]),
                                            from_r(p["batch_sizes"]).astype(np.int64),
                                            *idx)
        return {k: from_r(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(from_r(v) for v in value)
    return value


def to_r(value):
    """Python -> what R decodes: arrays as column-major bytes."""
    if isinstance(value, rnn_utils.PackedSequence):
        def idx(a):
            return None if a is None else to_r(np.asarray(a) + 1)
        return {"packed": {"data": to_r(value.data), "batch_sizes": to_r(value.batch_sizes),
                           "sorted_indices": idx(value.sorted_indices),
                           "unsorted_indices": idx(value.unsorted_indices)}}
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        a = np.asarray(value)
        if a.dtype.kind == "f":
            a, kind = a.astype("<f8"), "double"
        elif a.dtype.kind in "iub":
            a, kind = a.astype("<i4"), "integer"
        else:
            raise TypeError(f"no R type for a {a.dtype} array")
        return {"array": bytearray(a.tobytes(order="F")),
                "dim": [int(d) for d in a.shape], "type": kind}
    if isinstance(value, (tuple, list)):
        return [to_r(v) for v in value]
    if isinstance(value, dict):
        return {k: to_r(v) for k, v in value.items()}
    return value


def _call(fn, *args):
    try:
        return {"value": fn(*args)}
    except Exception as e:   # every failure becomes an R condition
        kinds = [c.__name__ for c in type(e).__mro__ if c not in (object, BaseException)]
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        return {"error": kinds, "message": _LAYER_IN_TEXT.sub(
            lambda m: f"_l{int(m.group(1)) + 1}", str(message))}


# -- entry points (each through _call) --------------------------------------
_KINDS = {"nn_rnn": crnn.RNN, "nn_lstm": crnn.LSTM, "nn_gru": crnn.GRU,
          "nn_rnn_cell": crnn.RNNCell, "nn_lstm_cell": crnn.LSTMCell,
          "nn_gru_cell": crnn.GRUCell}


def new_module(kind, kwargs):
    return _call(lambda: _KINDS[kind](**kwargs))


def forward(module, input, hx):
    return _call(lambda: to_r(module(from_r(input), from_r(hx))))


def backward(module, grads):
    return _call(lambda: to_r(module.backward(*from_r(grads))))


def named_parameters(module, what):
    def run():
        return {r_name(n): to_r(getattr(p, what)) for n, p in module.named_parameters()}
    return _call(run)


def state_dict(module):
    return _call(lambda: {r_name(k): to_r(v) for k, v in module.state_dict().items()})


def load_state_dict(module, state, strict):
    def run():
        got = module.load_state_dict({py_name(k): v for k, v in from_r(state).items()},
                                     strict=bool(strict))
        return {"missing_keys": [r_name(k) for k in got.missing_keys],
                "unexpected_keys": [r_name(k) for k in got.unexpected_keys]}
    return _call(run)


def attributes(module):
    """The module's settings, as R reads them."""
    def run():
        names = ("mode", "input_size", "hidden_size", "num_layers", "nonlinearity", "bias",
                 "batch_first", "dropout", "bidirectional", "proj_size", "training")
        out = {n: getattr(module, n) for n in names if hasattr(module, n)}
        out["dtype"] = np.dtype(module.dtype).name
        out["repr"] = repr(module)
        return out
    return _call(run)


def train(module, mode):
    return _call(lambda: bool(module.train(bool(mode)).training))


def zero_grad(module):
    return _call(lambda: module.zero_grad())


def quantize(module, dtype):
    return _call(lambda: crnn.quantize(module, dtype))


def _nested_to_py(value):
    """A checkpoint from R: parameter names of state dicts back to torch's."""
    if isinstance(value, dict):
        return {py_name(k): _nested_to_py(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_nested_to_py(v) for v in value]
    return value


def _nested_to_r(value):
    if isinstance(value, dict):
        return {r_name(k): _nested_to_r(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nested_to_r(v) for v in value]
    return to_r(value)


def save(obj, is_module, path):
    def run():
        crnn.save(obj if is_module else _nested_to_py(from_r(obj)), path)
    return _call(run)


def load(path):
    return _call(lambda: _nested_to_r(crnn.load(path)))


def pack_padded_sequence(input, lengths, batch_first, enforce_sorted):
    return _call(lambda: to_r(rnn_utils.pack_padded_sequence(
        from_r(input), from_r(lengths), bool(batch_first), bool(enforce_sorted))))


def pad_packed_sequence(sequence, batch_first, padding_value, total_length):
    def run():
        padded, lengths = rnn_utils.pad_packed_sequence(
            from_r(sequence), bool(batch_first), float(padding_value),
            None if total_length is None else int(total_length))
        return [to_r(padded), to_r(lengths)]
    return _call(run)


def manual_seed(seed):
    return _call(lambda: crnn.manual_seed(int(seed)))


def version():
    return _call(lambda: crnn.__version__)
