"""The glue operators that ``torch.onnx.export`` writes around recurrent
nodes, computed with NumPy: each takes (attributes, input arrays) and
returns its outputs. Nothing else runs; sizes are checked before any
array is made."""
from __future__ import annotations

import numpy as np
from onnx import helper

# the most elements an array made by the glue (ConstantOfShape, Expand) may hold
MAX_ELEMENTS = 1 << 28


def _size_checked(shape):
    """shape as a tuple, refused when it is negative or holds too many elements."""
    shape = tuple(int(d) for d in np.asarray(shape).ravel())
    if any(d < 0 for d in shape) or np.prod(shape, dtype=object) > MAX_ELEMENTS:
        raise ValueError(f"shape {shape}: expected non-negative dimensions and at most "
                         f"{MAX_ELEMENTS} elements")
    return shape


def _axes(attrs, inputs, i):
    """Axes from the attribute (older opsets) or from input i (newer)."""
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(inputs) > i and inputs[i] is not None:
        return [int(a) for a in np.asarray(inputs[i]).ravel()]
    return None


def _slice(attrs, inputs):
    x = inputs[0]
    if "starts" in attrs:                                   # opset < 10
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes"), None
    else:
        starts, ends = inputs[1].ravel(), inputs[2].ravel()
        axes = _axes(attrs, inputs, 3)
        steps = inputs[4].ravel() if len(inputs) > 4 and inputs[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in list(steps):
        raise ValueError("starts, ends, axes and steps: expected equal lengths, steps non-zero")
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [x[tuple(index)]]


def _reshape(attrs, inputs):
    x, shape = inputs[0], [int(d) for d in inputs[1].ravel()]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _squeeze(attrs, inputs):
    axes = _axes(attrs, inputs, 1)
    return [np.squeeze(inputs[0], axis=None if axes is None else tuple(axes))]


def _unsqueeze(attrs, inputs):
    axes = _axes(attrs, inputs, 1) or []
    rank = inputs[0].ndim + len(axes)
    return [np.expand_dims(inputs[0], tuple(sorted(a % rank for a in axes)))]


def _shape(attrs, inputs):
    shape = inputs[0].shape[attrs.get("start", 0):attrs.get("end", None)]
    return [np.array(shape, np.int64)]


def _constant_of_shape(attrs, inputs):
    value = attrs.get("value")
    fill = np.zeros(1, np.float32) if value is None else value
    return [np.full(_size_checked(inputs[0]), fill.ravel()[0], fill.dtype)]


def _expand(attrs, inputs):
    shape = np.broadcast_shapes(inputs[0].shape, _size_checked(inputs[1]))
    return [np.array(np.broadcast_to(inputs[0], _size_checked(shape)))]


def _concat(attrs, inputs):
    _size_checked([sum(np.size(x) for x in inputs)])
    return [np.concatenate(inputs, axis=attrs["axis"])]


def _gather(attrs, inputs):
    data, indices = inputs
    _size_checked([np.size(indices) * (data.size // max(data.shape[attrs.get("axis", 0)], 1))])
    return [np.take(data, indices, axis=attrs.get("axis", 0))]


def _cast(attrs, inputs):
    return [inputs[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))]


OPS = {
    "Identity": lambda a, i: [i[0]],
    "Transpose": lambda a, i: [np.transpose(i[0], a.get("perm"))],
    "Slice": _slice,
    "Concat": _concat,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Shape": _shape,
    "Gather": _gather,
    "Cast": _cast,
    "ConstantOfShape": _constant_of_shape,
    "Expand": _expand,
}
