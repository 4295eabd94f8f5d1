"""The stored form of quantized weights (``crnn.quantize``): what each
weight becomes, and how a state dict of them is recognised.

- int8: each weight matrix (``weight_ih``, ``weight_hh``, ``weight_hr``)
  symmetric per row, ``W ~ scale[:, None] * q``, q in [-127, 127], its
  float32 row scales beside it as ``<name>_scale``; the biases float32;
- bfloat16: every weight as uint16, the upper 16 bits of its float32 value
  rounded to nearest even.
"""
from __future__ import annotations

import numpy as np

from . import _kernels

TYPES = {"int8": _kernels.QINT8, "bfloat16": _kernels.QBF16}
NAMES = {v: k for k, v in TYPES.items()}
_MATRICES = ("weight_ih", "weight_hh", "weight_hr")


def int8_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(q, scale): each row symmetric over its largest magnitude (a zero
    row: scale 1)."""
    w = w.astype(np.float64)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale.astype(np.float64)[:, None]), -127, 127)
    return q.astype(np.int8), scale


def bfloat16_bits(w: np.ndarray) -> np.ndarray:
    """The upper 16 bits of float32 w, rounded to nearest even."""
    u = np.ascontiguousarray(w, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def _is_matrix(name: str) -> bool:
    return name.split("_l")[0] in _MATRICES or name in _MATRICES


def layout(specs, qtype: int) -> list:
    """[(name, shape, dtype)] of the stored weights for float parameters
    ``specs`` [(name, shape)], in state dict order (a scale after its
    matrix)."""
    out = []
    for name, shape in specs:
        if qtype == _kernels.QBF16:
            out.append((name, shape, np.dtype(np.uint16)))
        elif _is_matrix(name):
            out += [(name, shape, np.dtype(np.int8)),
                    (f"{name}_scale", shape[:1], np.dtype(np.float32))]
        else:
            out.append((name, shape, np.dtype(np.float32)))
    return out


def quantized(named_weights, qtype: int) -> dict:
    """{name: stored array} of float weights [(name, array)], in
    ``layout``'s order."""
    out = {}
    for name, w in named_weights:
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{name}: cannot quantize weights that are not finite")
        if qtype == _kernels.QBF16:
            out[name] = bfloat16_bits(w)
        elif _is_matrix(name):
            out[name], out[f"{name}_scale"] = int8_rows(w)
        else:
            out[name] = w.astype(np.float32)
    return out


def refuse_quantized(state_dict, float_names, kind: str) -> None:
    """A float module (``kind``, its parameters ``float_names``) is not given
    int8 or bfloat16 weights: converted, they would be numbers of another
    scale."""
    for k in state_dict:
        v = state_dict[k]
        stored = isinstance(v, np.ndarray) and v.dtype in (np.int8, np.uint16)
        if k.endswith("_scale") or (k in float_names and stored):
            q = "bfloat16" if stored and v.dtype == np.uint16 else "int8"
            raise TypeError(f"state_dict: {k!r} is part of {q}-quantized weights, which a "
                            f"float {kind} cannot take; load them into "
                            f"crnn.quantize({kind}(...), dtype={q!r})")
