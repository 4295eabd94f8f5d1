"""crnn's public exceptions, in one place. Each is documented and exported
as ``crnn.<Name>`` (and importable where users meet it: ``crnn.io``,
``crnn.onnx``, ``crnn.distributed``); each is also a built-in exception
class, so that code written against torch's or NumPy's errors catches it.
"""
from __future__ import annotations

import pickle

__all__ = ["StateDictKeyError", "ParameterShapeError", "UnsafeCheckpointError",
           "UnsaveableError", "OnnxError", "LayoutMismatchError"]


class StateDictKeyError(KeyError, RuntimeError):
    """Missing or unexpected keys in load_state_dict (a RuntimeError too, as
    torch raises)."""


class ParameterShapeError(ValueError, RuntimeError):
    """A misshaped value for a parameter, in load_state_dict or assigned
    (a RuntimeError too, as torch raises)."""


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """The checkpoint asks for something a state dict never contains (a
    ``ValueError`` too: the file's content is what is wrong)."""


class UnsaveableError(TypeError, ValueError):
    """A value (or key) that ``crnn.save`` cannot write; nothing was written."""


class OnnxError(ValueError):
    """An ONNX file crnn cannot read, or a graph it cannot compute exactly
    (``crnn.onnx``; defined here so that ``crnn`` exports it without
    importing onnx)."""


class LayoutMismatchError(ValueError):
    """The ranks' modules differ in parameter names, shapes or dtypes
    (``crnn.distributed``)."""


for _cls in (StateDictKeyError, ParameterShapeError, UnsafeCheckpointError, UnsaveableError,
             OnnxError, LayoutMismatchError):
    _cls.__module__ = "crnn"   # where users meet them (and where a pickle finds them)
del _cls
