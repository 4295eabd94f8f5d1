"""How crnn's (torch's) layer kinds map onto ONNX's recurrent operators:
gate order, activations, and the weights of one layer-direction."""
from __future__ import annotations

import numpy as np

from .. import _kernels
from ..rnn import RNNBase, RNNCellBase

# ONNX's gate blocks in terms of torch's: LSTM torch i,f,g,o -> ONNX i,o,f,c;
# GRU torch r,z,n -> ONNX z,r,h; the Elman RNN has one block
TORCH_TO_ONNX = {"RNN": (0,), "LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}
ONNX_TO_TORCH = {k: tuple(int(i) for i in np.argsort(v)) for k, v in TORCH_TO_ONNX.items()}

# the activations crnn computes, per direction, as ONNX names them
ACTIVATIONS = {"RNN_TANH": ["Tanh"], "RNN_RELU": ["Relu"], "LSTM": ["Sigmoid", "Tanh", "Tanh"],
               "GRU": ["Sigmoid", "Tanh"]}


def reorder(w: np.ndarray, op: str, order: dict) -> np.ndarray:
    """w with its gate blocks (along the first axis) permuted by order[op]."""
    perm = order[op]
    blocks = w.reshape((len(perm), -1) + w.shape[1:])
    return np.ascontiguousarray(blocks[list(perm)].reshape(w.shape))


# each cell kind of the core (what a layer or cell declares it computes,
# its ``_kind.cell``) as ONNX names it: (operator, key of ACTIVATIONS)
_KINDS = {_kernels.RNN_TANH: ("RNN", "RNN_TANH"), _kernels.RNN_RELU: ("RNN", "RNN_RELU"),
          _kernels.LSTM: ("LSTM", "LSTM"), _kernels.GRU: ("GRU", "GRU")}


def _kind_of(module) -> tuple[str, str]:
    """(operator, activations key) of a crnn layer or cell with float
    weights, from its declared cell kind and weight storage."""
    if not isinstance(module, (RNNBase, RNNCellBase)):
        raise TypeError(f"module: expected a crnn RNN, LSTM, GRU or one of their cells, "
                        f"got {type(module).__name__}")
    if module._qtype:
        raise TypeError(f"module: {module!r} has quantized weights, which the ONNX "
                        f"RNN/LSTM/GRU operators cannot hold; export the float module")
    return _KINDS[module._kind.cell]


def op_of(module) -> str:
    """The ONNX operator of a crnn layer or cell: RNN, LSTM or GRU."""
    return _kind_of(module)[0]


def activation_key(module) -> str:
    """The key of ACTIVATIONS for a crnn layer or cell."""
    return _kind_of(module)[1]
