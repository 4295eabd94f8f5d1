"""Nested checkpoints for crnn.save / crnn.load: a mapping of modules,
state dicts, optimizer and scheduler state and plain numbers, flattened to
named arrays plus a JSON description of the nesting, and written atomically.

The arrays are stored under their path in the tree (``"model/weight_ih_l0"``,
``"optim/state/0/exp_avg"``); the description (``TREE_KEY``) records
containers, key types and plain values, so that ``load`` gives back the same
nesting. A flat ``{name: array}`` state dict is written without it, as
before: the file then holds exactly the state dict's arrays.
"""
from __future__ import annotations

import json
import numbers
import os
import tempfile

import numpy as np

from ._errors import UnsaveableError
from ._validate import is_tensor, tensor_to_numpy

TREE_KEY = "__crnn_tree__"


def _leaf_array(value, where):
    arr = tensor_to_numpy(value) if is_tensor(value) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise UnsaveableError(f"{where}: expected arrays of numbers or bools, got dtype "
                              f"{arr.dtype}")
    return np.ascontiguousarray(arr)


def _key(k, where):
    if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral)):
        raise UnsaveableError(f"{where}: expected str or int keys, got "
                              f"{type(k).__name__} {k!r}")
    if isinstance(k, str) and ("/" in k or k == TREE_KEY):
        raise UnsaveableError(f"{where}: a key may not contain '/' nor be {TREE_KEY!r}, "
                              f"got {k!r}")
    return k if isinstance(k, str) else int(k)


def encode(obj, arrays: dict, where: str = ""):
    """obj as a JSON-able description; its arrays go into ``arrays`` by
    path. Anything with a ``state_dict()`` method (modules, optimizers,
    schedulers) is stored as its state dict. Refuses what cannot be
    written, naming where it sits."""
    at = where or "checkpoint"
    if callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral) and not isinstance(obj, np.generic):
        return int(obj)
    if isinstance(obj, float):
        return {"f": repr(obj)}                      # exact, NaN and inf included
    if isinstance(obj, (np.ndarray, np.generic)) or is_tensor(obj):
        arrays[where] = _leaf_array(obj, at)
        return {"a": where}
    if hasattr(obj, "items"):
        items = [(_key(k, at), v) for k, v in obj.items()]
        return {"d": [[k, encode(v, arrays, f"{where}/{k}" if where else str(k))]
                      for k, v in items]}
    if isinstance(obj, (list, tuple)):
        return {"t" if isinstance(obj, tuple) else "l":
                [encode(v, arrays, f"{where}/{i}" if where else str(i))
                 for i, v in enumerate(obj)]}
    raise UnsaveableError(f"{at}: cannot save a {type(obj).__name__}; a checkpoint holds "
                          f"modules, state dicts, arrays, numbers, strings, None, and "
                          f"dicts, lists and tuples of them")


def decode(desc, arrays: dict):
    """The object that ``encode`` described, its arrays taken from ``arrays``."""
    if not isinstance(desc, dict):
        return desc
    (kind, value), = desc.items()
    if kind == "a":
        return arrays[value]
    if kind == "f":
        return float(value)
    if kind == "d":
        return {k: decode(v, arrays) for k, v in value}
    items = [decode(v, arrays) for v in value]
    return tuple(items) if kind == "t" else items


def flatten(obj) -> tuple[dict, str | None]:
    """(named arrays, tree description or None) for ``obj``: None when obj is
    a flat state dict {str: array}, written as it is."""
    if callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    if not hasattr(obj, "items"):
        raise UnsaveableError(f"checkpoint: expected a module or a mapping (a state dict, "
                              f"or a dict of modules, state dicts and numbers), got "
                              f"{type(obj).__name__}")
    arrays: dict = {}
    desc = encode(obj, arrays)
    flat = all(isinstance(k, str) and isinstance(v, dict) and set(v) == {"a"}
               for k, v in desc["d"])
    return arrays, None if flat else json.dumps(desc, allow_nan=False)


def write_atomic(path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it
    to ``path``: a failure leaves no partial file (and an older file at
    ``path`` untouched)."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def unflatten(arrays: dict, tree: str | None):
    """The saved object: the nesting of ``tree`` over ``arrays``, or the flat
    state dict when there is no tree."""
    if tree is None:
        return arrays
    return decode(json.loads(tree), arrays)
