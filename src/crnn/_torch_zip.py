"""Reading a PyTorch checkpoint (``torch.save(model.state_dict(), path)``,
the zip format of torch >= 1.6) without torch: a restricted unpickler that
admits only the plain containers and tensor storages a state dict is made
of, and refuses anything else — a pickle that would run code raises
``UnsafeCheckpointError`` and runs nothing."""
from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

from ._errors import UnsafeCheckpointError

__all__ = ["load_torch_checkpoint"]

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
