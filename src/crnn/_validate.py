"""Argument checks shared by every module: one place, one message style
(the argument's name, what was expected, what was given)."""
from __future__ import annotations

import math
import numbers
import os
import sys
import warnings

import numpy as np

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}")
    return dt


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}: expected an int greater than zero, got {value}")
    return int(value)


def check_probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a number in the range [0, 1] (the "
                         f"probability of an element being zeroed), got {value!r}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def is_tensor(value) -> bool:
    """A torch tensor, recognised without importing torch."""
    return hasattr(value, "detach") and hasattr(value, "numpy")


_warned_requires_grad = False


def _warn_requires_grad() -> None:
    """Once per process: a tensor that requires grad is taken as its values;
    torch's autograd graph ends there."""
    global _warned_requires_grad
    if not _warned_requires_grad:
        _warned_requires_grad = True
        warnings.warn("a torch tensor that requires grad was given: crnn takes its values "
                      "as a NumPy array, and torch's autograd does not see through crnn "
                      "(gradients come from crnn's backward). Pass tensor.detach() to say "
                      "so and silence this warning.", UserWarning,
                      stacklevel=_caller_outside_crnn())


def _caller_outside_crnn() -> int:
    """The stacklevel, for warnings.warn called right here, of the first
    frame outside the crnn package: the user's line."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def tensor_to_numpy(t) -> np.ndarray:
    """A torch CPU tensor as an ndarray; dtypes NumPy lacks (bfloat16) go
    through float32, which holds them exactly."""
    if getattr(t, "requires_grad", False):
        _warn_requires_grad()
    t = t.detach().cpu()
    try:
        return t.numpy()
    except TypeError:
        return t.float().numpy()


def as_array(value, dtype: np.dtype, name: str) -> np.ndarray:
    """value as an ndarray of dtype: arrays, nested lists and torch CPU
    tensors of real numbers convert; bool, complex, strings and objects
    are refused rather than guessed at."""
    if type(value) is np.ndarray and value.dtype == dtype:   # the usual call
        return value
    if is_tensor(value):
        value = tensor_to_numpy(value)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name}: expected an array of real numbers, got "
                        f"{type(value).__name__} ({e})") from None
    if arr.dtype.kind == "O":   # only if every element is a real number
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                   for v in arr.flat):
            raise TypeError(f"{name}: expected an array of real numbers, got an "
                            f"object array holding other things")
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected an array of real numbers, got dtype "
                        f"{arr.dtype}")
    return np.asarray(arr, dtype=dtype)


def kernel_ready(arr: np.ndarray) -> np.ndarray:
    """arr, or a copy of it that is C-contiguous and aligned, as the core
    reads it (an array over a buffer received from elsewhere, as Dask hands
    them over, may be unaligned)."""
    flags = arr.flags
    if flags.c_contiguous and flags.aligned:   # the usual call: no check more
        return arr
    return np.require(arr, requirements="CA")


def as_kernel_array(value, dtype: np.dtype, name: str) -> np.ndarray:
    """as_array, then C-contiguous and aligned unless it already is (strides
    the core can take: the core reads any positive strides of a C-ordered
    array's axes, which transposes of C-contiguous arrays keep)."""
    return kernel_ready(as_array(value, dtype, name))


def is_plain(value, dtype: np.dtype, shape: tuple) -> bool:
    """The usual call's arrays, checked at once: value is an ndarray of
    dtype and shape that as_kernel_array and check_shape would pass on as it
    is (C-contiguous, aligned). False sends it to the full checks (so does
    an equal dtype that is not numpy's own instance of it)."""
    if type(value) is not np.ndarray or value.dtype is not dtype or value.shape != shape:
        return False
    flags = value.flags
    return flags.c_contiguous and flags.aligned


def check_shape(arr: np.ndarray, name: str, expected: tuple, what: str = "") -> None:
    if arr.shape != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}{what}, got {arr.shape}")


INT_MAX = 2**31 - 1  # the core indexes its products with 32-bit ints (the C API's limit)


def check_rows(rows: int, batch: int, gate_size: int, name: str, shape) -> None:
    """The core hands BLAS the number of rows (sequence steps times batch)
    and batch x gate_size as ints: refuse what does not fit, before any
    memory is touched."""
    if rows > INT_MAX or batch * gate_size > INT_MAX:
        raise ValueError(f"{name}: shape {tuple(shape)} needs {rows} rows (and batch x "
                         f"gates {batch * gate_size}), beyond the {INT_MAX} a 32-bit BLAS "
                         f"index holds; split the batch or the sequence")


def check_input(value, dtype: np.dtype, input_size: int, ranks: tuple,
                gate_size: int) -> np.ndarray:
    """The ``input`` of a layer (ranks (2, 3)) or cell (ranks (1, 2)):
    unbatched or batched, with input_size features in the last axis, within
    BLAS's 32-bit sizes; C-contiguous and aligned (copied only if it was
    not)."""
    x = as_array(value, dtype, "input")
    shape = x.shape
    if len(shape) not in ranks:
        raise ValueError(f"input: expected {ranks[0]}-D (unbatched) or {ranks[1]}-D "
                         f"(batched) input, got {x.ndim}-D with shape {shape}")
    if shape[-1] != input_size:
        raise ValueError(f"input: expected {input_size} features (input_size) in the "
                         f"last dimension, got shape {shape}")
    batch = shape[-2] if len(shape) == ranks[1] else 1
    # rows <= size (input_size >= 1): the product only for sizes near the limit
    if x.size > INT_MAX or batch * gate_size > INT_MAX:
        check_rows(math.prod(shape[:-1]), batch, gate_size, "input", shape)
    return kernel_ready(x)
