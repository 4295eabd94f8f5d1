"""Pickling modules and optimizers so that views stay views.

Modules and optimizers pickle (Dask ships them to worker processes so): a
view of another array pickles as that view of the (shared) array, so that
the named parameters of an unpickled module are again views into its flat
buffers, and an optimizer pickled together with its modules updates them.
"""
from __future__ import annotations

import weakref

import numpy as np

__all__ = ["aliasing_state", "by_reference", "view_of"]


class _Owned:
    """Stands in for an array that owns its memory while pickling: unpickles
    as an aligned, writeable copy (a buffer received out of band, as Dask
    sends them, may be neither), once per pickle however many objects and
    views refer to it (see _owned)."""

    __slots__ = ("arr", "__weakref__")

    def __init__(self, arr: np.ndarray):
        self.arr = arr

    def __reduce__(self):
        return np.array, (self.arr,)


_stand_ins: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _owned(arr: np.ndarray) -> _Owned:
    """One stand-in per array while any is alive (a pickle's memo keeps
    those it wrote), so that the pickle holds the array once."""
    w = _stand_ins.get(id(arr))
    if w is None or w.arr is not arr:
        w = _stand_ins[id(arr)] = _Owned(arr)
    return w


def view_of(base: np.ndarray, start: int, shape: tuple) -> np.ndarray:
    return base.reshape(-1)[start:start + int(np.prod(shape))].reshape(shape)


class _View:
    """Stands in for a contiguous view of a contiguous array while pickling:
    unpickles as the same view of the unpickled base (pickle keeps one copy
    of each base, however many objects refer to it)."""

    def __init__(self, arr: np.ndarray):
        self.arr = arr

    def __reduce__(self):
        arr, base = self.arr, self.arr.base
        start = (arr.__array_interface__["data"][0]
                 - base.__array_interface__["data"][0]) // arr.itemsize
        return view_of, (_owned(base), start, arr.shape)


def by_reference(value):
    """value with every array in it (inside dicts, lists, tuples) replaced
    by its stand-in: an _Owned for one that owns its memory, a _View for a
    contiguous view of such an array; other values as they are."""
    if isinstance(value, np.ndarray):
        base = value.base
        if base is None:
            return _owned(value)
        if isinstance(base, np.ndarray) and base.base is None and \
                base.dtype == value.dtype and base.flags.c_contiguous and \
                value.flags.c_contiguous:
            return _View(value)
        return value
    if isinstance(value, dict):
        return {k: by_reference(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(by_reference(v) for v in value)
    return value


def aliasing_state(obj) -> dict:
    """obj's __dict__ for pickling, its views kept as views (see _View)."""
    return by_reference(obj.__dict__)
