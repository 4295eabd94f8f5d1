"""Weights in and out: state dicts to and from files, without torch::

    crnn.save(module.state_dict(), "model.npz")      # or .safetensors
    module.load_state_dict(crnn.load("model.npz"))   # .npz, .safetensors,
                                                     # or torch's .pt / .pth
    crnn.save({"model": gru, "optim": opt.state_dict(), "epoch": 12}, "run.npz")

A PyTorch checkpoint (``torch.save(model.state_dict(), path)``, the zip
format of torch >= 1.6) is read by a restricted unpickler: it admits only
the plain containers and tensor storages that a state dict is made of, and
refuses anything else — a pickle that would run code raises
``UnsafeCheckpointError`` and runs nothing.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import tokenize
import zipfile
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from . import _checkpoint
from ._checkpoint import UnsaveableError

__all__ = ["save", "load", "load_torch_checkpoint", "UnsafeCheckpointError",
           "UnsaveableError"]


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """The checkpoint asks for something a state dict never contains (a
    ``ValueError`` too: the file's content is what is wrong)."""


class OnnxError(ValueError):
    """An ONNX file crnn cannot read, or a graph it cannot compute exactly
    (``crnn.onnx``; defined here so that ``crnn`` exports it without
    importing onnx)."""


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


# -- PyTorch checkpoints --------------------------------------------------------
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "BFloat16Storage": "bfloat16",
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    """A storage read from the checkpoint's data/ records: a 1-D array. Only
    these reach _rebuild_tensor_v2 as storages."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage) or not isinstance(size, tuple) or \
            not isinstance(stride, tuple) or len(size) != len(stride) or not all(
            isinstance(v, int) and v >= 0 for v in (storage_offset, *size, *stride)):
        raise UnsafeCheckpointError("a tensor with a malformed storage, offset, shape or "
                                    "strides")
    data = storage.array
    item = data.itemsize
    if not size:
        if storage_offset >= data.size:
            raise UnsafeCheckpointError("a scalar tensor past the end of its storage")
        return np.array(data[storage_offset])
    if all(size):
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= data.size:
            raise UnsafeCheckpointError(f"a tensor of shape {size} reaches past its "
                                        f"storage of {data.size} elements")
    elif storage_offset > data.size:
        raise UnsafeCheckpointError("an empty tensor past the end of its storage")
    view = np.lib.stride_tricks.as_strided(data[storage_offset:], size,
                                           tuple(s * item for s in stride), writeable=False)
    if view.size > data.size:   # an expanded view (stride 0): kept a view, as torch does
        return view
    return np.array(view, copy=True)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits the few globals a torch state dict pickles; refuses the rest."""

    ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, zf, prefix, byteorder):
        super().__init__(file)
        self.zf, self.prefix, self.byteorder = zf, prefix, byteorder
        self.storages = {}   # a storage shared by several tensors is read once

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name.endswith("Storage") or \
                (module, name) == ("torch._utils", "_rebuild_tensor_v3"):
            raise UnsafeCheckpointError(
                f"unsupported tensor type ({module}.{name}): crnn reads state dicts of "
                f"float64/32/16, bfloat16, int64/32/16/8, uint8 and bool tensors")
        raise UnsafeCheckpointError(
            f"refusing to load {module}.{name}: a state dict checkpoint holds only "
            f"tensors and plain containers (was this saved with torch.save(model) "
            f"instead of torch.save(model.state_dict())?)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r}")
        kind, key, numel = pid[1].name, str(pid[2]), pid[4]
        if not isinstance(numel, int) or numel < 0:
            raise UnsafeCheckpointError(f"storage {key} with a malformed size {numel!r}")
        if key in self.storages:
            return self.storages[key]
        dtype = _STORAGE_DTYPES[kind]
        item = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        try:
            info = self.zf.getinfo(f"{self.prefix}/data/{key}")
        except KeyError:
            raise UnsafeCheckpointError(f"storage {key} is missing from the archive") from None
        if info.file_size < numel * item:
            raise UnsafeCheckpointError(f"storage {key} holds {info.file_size} bytes, "
                                        f"{numel * item} expected")
        with self.zf.open(info) as f:          # never more than the storage's size
            raw = f.read(numel * item)
        if dtype == "bfloat16":
            u16 = np.frombuffer(raw, dtype=np.dtype("u2").newbyteorder(self.byteorder))
            arr = (u16.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(self.byteorder))
            arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
        self.storages[key] = _Storage(arr)
        return self.storages[key]


def _unpickle(unpickler, path):
    """unpickler.load(); a damaged pickle raises ValueError, one that asks
    for what a state dict never holds UnsafeCheckpointError."""
    try:
        return unpickler.load()
    except UnsafeCheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, IndexError, KeyError,
            AttributeError) as e:
        raise ValueError(f"path: {str(path)!r}: the checkpoint's data.pkl is damaged "
                         f"({type(e).__name__}: {e})") from None


def load_torch_checkpoint(path) -> dict:
    """The state dict in a PyTorch checkpoint (zip format), as ndarrays,
    read without torch and without running any code from the file."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"path: {str(path)!r} is not a PyTorch zip checkpoint (saved "
                         f"by torch >= 1.6 with torch.save)") from None
    with zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"path: {str(path)!r} has no single data.pkl; not a "
                             f"PyTorch checkpoint")
        prefix = pkl[0][:-len("/data.pkl")]
        byteorder = "<"
        if f"{prefix}/byteorder" in zf.namelist():
            order = zf.read(f"{prefix}/byteorder")[:16].strip()
            if order not in (b"little", b"big"):
                raise ValueError(f"path: {str(path)!r}: unknown byteorder record {order!r}")
            byteorder = "<" if order == b"little" else ">"
        obj = _unpickle(_RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), zf, prefix,
                                             byteorder), path)
    if not isinstance(obj, dict):
        raise ValueError(f"path: {str(path)!r}: the checkpoint holds a {type(obj).__name__}, "
                         f"not a state dict")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, np.ndarray):
            raise ValueError(f"path: {str(path)!r}: entry {k!r} of the checkpoint is a "
                             f"{type(v).__name__}, not a tensor")
        out[str(k)] = v
    return out
