"""Weights in and out: state dicts to and from files, without torch::

    crnn.save(module.state_dict(), "model.npz")      # or .safetensors
    module.load_state_dict(crnn.load("model.npz"))   # .npz, .safetensors,
                                                     # or torch's .pt / .pth
    crnn.save({"model": gru, "optim": opt.state_dict(), "epoch": 12}, "run.npz")

A PyTorch checkpoint (``torch.save(model.state_dict(), path)``, the zip
format of torch >= 1.6) is read by a restricted unpickler (``_torch_zip``):
it admits only the plain containers and tensor storages that a state dict
is made of, and refuses anything else — a pickle that would run code raises
``UnsafeCheckpointError`` and runs nothing.
"""
from __future__ import annotations

import os
import struct
import tokenize
import zipfile
import zlib
from typing import Any

import numpy as np

from . import _checkpoint
from ._errors import OnnxError, UnsafeCheckpointError, UnsaveableError  # noqa: F401
from ._torch_zip import load_torch_checkpoint

__all__ = ["save", "load", "load_torch_checkpoint", "UnsafeCheckpointError",
           "UnsaveableError"]


def _format(path, fmt):
    if fmt is not None:
        return fmt
    ext = os.path.splitext(str(path))[1].lower()
    return {".npz": "npz", ".safetensors": "safetensors", ".pt": "torch",
            ".pth": "torch", ".bin": "torch"}.get(ext)


def save(obj: Any, path: str | os.PathLike, format: str | None = None) -> None:
    """Write a module, a state dict, or a nested checkpoint to a file.

    Parameters
    ----------
    obj : Module, mapping
        A module (its ``state_dict()`` is written), a state dict
        ``{name: array}``, or a mapping nesting modules, state dicts,
        optimizer and scheduler state (anything with ``state_dict()``),
        arrays, numbers, strings, None, lists and tuples, e.g.
        ``{"model": gru, "optim": opt.state_dict(), "epoch": 12}``.
    path : str or os.PathLike
        The file: ``.npz`` (NumPy) or ``.safetensors`` (needs
        ``pip install safetensors``).
    format : {"npz", "safetensors"}, optional
        The format, when the suffix does not say.

    Raises
    ------
    UnsaveableError
        A value or key that cannot be written (a ``TypeError``); it is
        refused before anything is written.

    Notes
    -----
    The file is written under a temporary name in the same folder and
    renamed into place when complete: a failed save leaves no partial file.
    A flat state dict is stored as its arrays under their names; a nested
    checkpoint stores each array under its path (``"model/weight_ih_l0"``)
    plus a description of the nesting, which :func:`load` uses to give back
    the same structure.
    """
    fmt = _format(path, format)
    if fmt not in ("npz", "safetensors"):
        raise ValueError(f"path: expected a .npz or .safetensors file (or format='npz' / "
                         f"'safetensors'), got {str(path)!r}")
    arrays, tree = _checkpoint.flatten(obj)
    if fmt == "npz":
        entries = dict(arrays)
        if tree is not None:
            entries[_checkpoint.TREE_KEY] = np.array(tree)
        _checkpoint.write_atomic(path, lambda f: np.savez(f, **entries))
    else:
        to_bytes = _safetensors("crnn.save to .safetensors").numpy.save
        meta = None if tree is None else {_checkpoint.TREE_KEY: tree}
        data = to_bytes(arrays, metadata=meta)
        _checkpoint.write_atomic(path, lambda f: f.write(data))


# what the readers below raise for a damaged file, beside ValueError (found
# by tests/fuzz_readers.py); each becomes a ValueError naming the file
_DAMAGED = (EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, struct.error,
            OverflowError, MemoryError, OSError, RuntimeError, tokenize.TokenError)
_NOT_THERE = (FileNotFoundError, IsADirectoryError, PermissionError)


def _safetensors(what):
    """The safetensors package (its numpy module imported), or an error
    saying what to install."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401
    except ImportError as e:
        from ._extras import missing
        raise missing(what, "safetensors", e) from e
    return safetensors


# what each reader expects, for the messages about a file it cannot read
_EXPECTED = {
    "npz": "a zip archive of .npy arrays (what crnn.save and numpy.savez write)",
    "safetensors": "a safetensors file (what crnn.save and safetensors write)",
    "torch": "a PyTorch checkpoint of a state dict (what torch.save writes: the zip "
             "format of torch >= 1.6)",
}


def load(path: str | os.PathLike, format: str | None = None) -> dict[str, Any]:
    """Read what :func:`save` wrote, or a PyTorch checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz``, ``.safetensors`` or PyTorch ``.pt`` / ``.pth`` file (the
        latter read without torch, running nothing from the file).
    format : {"npz", "safetensors", "torch"}, optional
        The format, when the suffix does not say.

    Returns
    -------
    dict
        A state dict ``{name: ndarray}``, or the nested checkpoint as it was
        saved (modules and optimizers as their state dicts).

    Raises
    ------
    ValueError
        A file that is not what its suffix (or ``format``) says, or is
        damaged; the message names the file and what was expected
        (``UnsafeCheckpointError`` for a checkpoint that would run code).
    ModuleNotFoundError
        A ``.safetensors`` file without the safetensors package.
    """
    fmt = _format(path, format)
    if format is not None and fmt not in _EXPECTED:
        raise ValueError(f"format: expected 'npz', 'safetensors' or 'torch', got {format!r}")
    if fmt not in _EXPECTED:
        raise ValueError(f"path: expected a .npz, .safetensors, .pt or .pth file (or "
                         f"format='npz' / 'safetensors' / 'torch'), got {str(path)!r}")
    try:
        return _load(path, fmt)
    except _NOT_THERE:
        raise
    except UnsafeCheckpointError as e:
        if str(path) in str(e):
            raise
        raise UnsafeCheckpointError(f"path: {str(path)!r}: {e}") from None
    except (*_DAMAGED, ValueError, TypeError) as e:
        if str(e).startswith(f"path: {str(path)!r}"):   # said already
            raise
        raise ValueError(f"path: {str(path)!r} is not a readable {fmt} file: expected "
                         f"{_EXPECTED[fmt]}; {_reason(e)}") from None


def _reason(e: Exception) -> str:
    """What a reader below said about a file, in crnn's terms."""
    if "allow_pickle" in str(e):   # NumPy's advice names an argument crnn has not
        return "it holds pickled Python objects, which crnn never loads"
    return f"{type(e).__name__}: {e}"


def _load(path, fmt) -> dict:
    if fmt == "npz":
        with open(path, "rb") as f:
            magic = f.read(6)
        if not magic.startswith(b"PK"):
            raise ValueError(f"path: {str(path)!r} is not a readable npz file: expected "
                             f"{_EXPECTED['npz']}, got "
                             + ("a single .npy array" if magic == b"\x93NUMPY" else
                                "a file that is not a zip archive"))
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        tree = arrays.pop(_checkpoint.TREE_KEY, None)
        return _checkpoint.unflatten(arrays, None if tree is None else str(tree))
    if fmt == "safetensors":
        safetensors = _safetensors("crnn.load of a .safetensors file")
        SafetensorError, safe_open = safetensors.SafetensorError, safetensors.safe_open
        try:
            with safe_open(str(path), framework="np") as f:
                arrays = {k: f.get_tensor(k) for k in f.keys()}
                tree = (f.metadata() or {}).get(_checkpoint.TREE_KEY)
        except SafetensorError as e:
            raise ValueError(f"path: {str(path)!r} is not a readable safetensors file: "
                             f"expected {_EXPECTED['safetensors']}; {e}") from None
        return _checkpoint.unflatten(arrays, tree)
    if fmt == "torch":
        return load_torch_checkpoint(path)
    raise AssertionError(fmt)   # load checked it
