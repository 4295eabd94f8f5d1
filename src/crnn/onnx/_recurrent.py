"""An ONNX RNN / LSTM / GRU node as a crnn module, refused where crnn
would not compute exactly what the node means; and the node run on it."""
from __future__ import annotations

import numpy as np

from .. import _kernels, rnn
from .._errors import OnnxError
from ._gates import ACTIVATIONS, ONNX_TO_TORCH, op_of, reorder

_GATES = {op: _kernels.cell_gates(cell) for op, cell in
          (("RNN", _kernels.RNN_TANH), ("LSTM", _kernels.LSTM), ("GRU", _kernels.GRU))}
# the operators' attributes and their types (as _load._attrs decodes them)
_KNOWN = {"hidden_size": int, "direction": str, "activations": list, "layout": int,
          "linear_before_reset": int, "clip": float, "input_forget": int,
          "activation_alpha": list, "activation_beta": list}


def _refuse(where, what):
    raise OnnxError(f"{where}: {what}")


def _check_attrs(op, attrs, where):
    """The node's direction count; refuses what crnn does not compute."""
    for name in sorted(set(attrs) - set(_KNOWN)):
        _refuse(where, f"attribute {name} is not one of the operator's")
    for name in ("clip", "activation_alpha", "activation_beta"):
        if name in attrs:
            _refuse(where, f"attribute {name}={attrs[name]!r}: crnn has no {name}")
    for name, value in attrs.items():
        if not isinstance(value, _KNOWN[name]) or isinstance(value, bool) or \
                isinstance(value, list) and not all(isinstance(v, str) for v in value):
            _refuse(where, f"attribute {name}: expected {_KNOWN[name].__name__}, got "
                           f"{value!r}")
    if attrs.get("input_forget", 0):
        _refuse(where, "attribute input_forget=1: crnn's LSTM has no coupled input-forget gate")
    if op == "GRU" and attrs.get("linear_before_reset", 0) != 1:
        _refuse(where, f"attribute linear_before_reset={attrs.get('linear_before_reset', 0)}: "
                       f"crnn's (torch's) GRU computes r * (W_hn h + b_hn), which is "
                       f"linear_before_reset=1")
    if attrs.get("layout", 0) not in (0, 1):
        _refuse(where, f"attribute layout={attrs['layout']!r}: expected 0 or 1")
    direction = attrs.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        _refuse(where, f"attribute direction={direction!r}: expected 'forward', 'reverse' "
                       f"or 'bidirectional'")
    return 2 if direction == "bidirectional" else 1


def _mode(op, attrs, D, where) -> str:
    """crnn's cell kind for the node's activations: RNN_TANH, RNN_RELU, LSTM, GRU."""
    acts = [a.lower() for a in attrs.get("activations", [])]
    for mode in (["RNN_TANH", "RNN_RELU"] if op == "RNN" else [op]):
        if not acts or acts == [a.lower() for a in ACTIVATIONS[mode]] * D:
            return mode
    _refuse(where, f"attribute activations={attrs['activations']!r}: crnn computes "
                   f"{' or '.join(str(ACTIVATIONS[m] * D) for m in ACTIVATIONS if m.startswith(op[:3]))}")


def _check_weights(op, W, R, B, D, attrs, where):
    """(input_size, hidden_size) once W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) agree."""
    G = _GATES[op]
    for name, arr in (("W", W), ("R", R)):
        if arr.ndim != 3 or arr.dtype not in (np.float32, np.float64):
            _refuse(where, f"input {name}: expected a float32 or float64 array of 3 "
                           f"dimensions, got {arr.dtype} of shape {arr.shape}")
    H = R.shape[2]
    I = W.shape[2]
    if H < 1 or I < 1 or attrs.get("hidden_size", H) != H:
        _refuse(where, f"attribute hidden_size={attrs.get('hidden_size')}: R has shape "
                       f"{R.shape}, which says hidden_size {H}")
    want = {"W": (D, G * H, I), "R": (D, G * H, H), "B": (D, 2 * G * H)}
    for name, arr in (("W", W), ("R", R), ("B", B)):
        if arr is not None and (arr.shape != want[name] or arr.dtype != W.dtype):
            _refuse(where, f"input {name}: expected shape {want[name]} of {W.dtype} for "
                           f"hidden_size {H}, {D} direction(s), got {arr.shape} of {arr.dtype}")
    return I, H


def build_module(op, attrs, weights, where):
    """The crnn layer (one layer, D directions) that computes the node."""
    D = _check_attrs(op, attrs, where)
    W, R, B = weights
    I, H = _check_weights(op, W, R, B, D, attrs, where)
    mode = _mode(op, attrs, D, where)
    kw = dict(bias=B is not None, batch_first=attrs.get("layout", 0) == 1,
              bidirectional=D == 2, dtype=W.dtype)
    if op == "RNN":
        kw["nonlinearity"] = "relu" if mode == "RNN_RELU" else "tanh"
    module = getattr(rnn, op)(I, H, **kw).eval()
    sd = {}
    for d, sfx in enumerate(["_l0", "_l0_reverse"][:D]):
        sd[f"weight_ih{sfx}"] = reorder(W[d], op, ONNX_TO_TORCH)
        sd[f"weight_hh{sfx}"] = reorder(R[d], op, ONNX_TO_TORCH)
        if B is not None:
            half = B.shape[1] // 2
            sd[f"bias_ih{sfx}"] = reorder(B[d, :half], op, ONNX_TO_TORCH)
            sd[f"bias_hh{sfx}"] = reorder(B[d, half:], op, ONNX_TO_TORCH)
    module.load_state_dict(sd)
    return module


def _initial_state(module, h0, c0, N):
    """The crnn state argument from a node's initial_h / initial_c (either
    may be missing: zeros), both (D, N, H) in time-first layout."""
    lstm = op_of(module) == "LSTM"
    if h0 is None and (c0 is None or not lstm):
        return None
    zeros = np.zeros((module.num_directions, N, module.hidden_size), module.dtype)
    h0, c0 = (zeros if s is None else s for s in (h0, c0))
    return (h0, c0) if lstm else h0


def _flip_within(x, lens, bf):
    """x with the first lens[n] steps of each sequence n reversed; the
    steps past a sequence's length stay (flipping twice restores x)."""
    t_axis = 1 if bf else 0
    L, N = x.shape[t_axis], x.shape[1 - t_axis]
    lens = np.full(N, L) if lens is None else np.ravel(lens).astype(np.int64)
    t = np.arange(L)[:, None]
    idx = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)      # (L, N)
    return np.take_along_axis(x, (idx.T if bf else idx)[:, :, None], axis=t_axis)


def run_node(module, reverse, X, lens=None, h0=None, c0=None):
    """The node's outputs [Y, Y_h(, Y_c)] in its layout, computed by module;
    a reverse node runs its forward module on each sequence reversed."""
    from ..utils.rnn import pack_padded_sequence, pad_packed_sequence
    bf, D, H = module.batch_first, module.num_directions, module.hidden_size
    if np.ndim(X) != 3:
        raise ValueError(f"X: expected 3 dimensions, got shape {np.shape(X)}")
    N, L = (X.shape[0], X.shape[1]) if bf else (X.shape[1], X.shape[0])
    state = _initial_state(module, *(s if s is None or not bf else np.swapaxes(s, 0, 1)
                                     for s in (h0, c0)), N)
    x = _flip_within(X, lens, bf) if reverse else X
    packed = lens is not None and not np.array_equal(np.ravel(lens), np.full(N, L))
    if packed:
        x = pack_padded_sequence(x, np.ravel(lens), batch_first=bf, enforce_sorted=False)
    y, sn = module(x, state)
    if packed:
        y, _ = pad_packed_sequence(y, batch_first=bf, total_length=L)
    y = _flip_within(y, lens, bf) if reverse else y
    y = y.reshape(y.shape[:2] + (D, H))                   # (L, N, D, H) / (N, L, D, H)
    y = y if bf else y.transpose(0, 2, 1, 3)              # ONNX: (L, D, N, H)
    finals = list(sn) if op_of(module) == "LSTM" else [sn]
    return [y] + [s.swapaxes(0, 1) if bf else s for s in finals]
