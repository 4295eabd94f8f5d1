"""Serving with int8 or bfloat16 weights: ``crnn.quantize``.

    q = crnn.quantize(lstm, dtype="int8")      # or "bfloat16"
    out, (h, c) = q(x, (h0, c0))               # called as lstm is
    crnn.save(q, "lstm-int8.npz")              # weights, scales, biases
    q2 = crnn.quantize(crnn.LSTM(64, 256), "int8")
    q2.load_state_dict(crnn.load("lstm-int8.npz"))

The quantized module is of the same kind (``isinstance(q, crnn.LSTM)``),
inference only, float32 in and out. Its weight matrices are stored as:

- int8: symmetric, one float32 scale per output row (per gate row):
  ``weight_ih_l0`` (int8, torch's shape) and ``weight_ih_l0_scale``
  (float32, its rows), W ~ scale[:, None] * q, q in [-127, 127];
- bfloat16: every parameter (``weight_ih_l0``, ``bias_ih_l0``, ...) as
  uint16, the upper 16 bits of the float32 value rounded to nearest even.

int8 keeps the biases float32. ``weight_hr_l{k}`` (LSTM projections) is
stored like the other matrices. These are the state dict's keys and
dtypes, and so those of a saved ``.npz`` or ``.safetensors`` file.
"""
from __future__ import annotations

import numpy as np

from ._errors import StateDictKeyError
from ._module import Buffer, IncompatibleKeys, construct
from ._qformat import NAMES, TYPES, layout, quantized
from ._validate import as_array, check_choice
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["quantize"]


class _Quantized:
    """What the quantized modules add to their float kind (``float_class``):
    fixed int8 or bfloat16 weights, kept as read-only buffers (they have no
    gradients) and packed once for the kernels; inference only.

    Built by the float kind's constructor, with its arguments (the same
    checks, the same layout) and ``weight_dtype``: the weights start as
    zeros (int8 scales: ones) until ``crnn.quantize`` or
    ``load_state_dict`` gives them.
    """

    float_class: type   # the float kind, named by each class below
    _qtype: int

    def __init__(self, *args, weight_dtype: str = "int8", **kwargs):
        # before the float constructor, which lays out the weights by it
        self._qtype = TYPES[check_choice(weight_dtype, "weight_dtype", tuple(TYPES))]
        super().__init__(*args, **kwargs)
        if self.dtype != np.float32:
            self._refuse_dtype(self.dtype)
        self.training = False

    @property
    def weight_dtype(self) -> str:
        """``"int8"`` or ``"bfloat16"``: how the weights are stored."""
        return NAMES[self._qtype]

    def _allocate(self, specs) -> None:
        """The stored weights of the float parameters ``specs``, as buffers
        (the float constructor's call)."""
        self._set_buffers({name: (np.ones if name.endswith("_scale") else np.zeros)(shape, dt)
                           for name, shape, dt in layout(specs, self._qtype)})

    def _set_buffers(self, arrays: dict) -> None:
        buffers = {}
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            a.flags.writeable = False   # packed once: they must not change
            buffers[name] = Buffer(name, a)
        object.__setattr__(self, "_buffers", buffers)

    def _take(self, arrays: dict) -> None:
        """Hold ``arrays`` (checked) as the weights, packed now."""
        self._set_buffers(arrays)
        self._derive()

    def _arguments(self, cls=None) -> dict:
        """The float kind's constructor arguments and ``weight_dtype``."""
        return {**super()._arguments(self.float_class), "weight_dtype": self.weight_dtype}

    def _refuse(self, what: str):
        raise RuntimeError(f"{what}: a quantized {self.float_class.__name__} "
                           f"({self.weight_dtype} weights) is for inference only; train the "
                           f"float module, then crnn.quantize it again")

    def _refuse_dtype(self, dt):
        raise TypeError(f"dtype: a quantized {self.float_class.__name__} computes in float32 "
                        f"from its {self.weight_dtype} weights, got {dt}; convert the float "
                        f"module, then quantize it")

    def train(self, mode: bool = True):
        if mode:
            self._refuse("train()")
        self.training = False
        return self

    def backward(self, *args, **kwargs):
        self._refuse("backward")

    def zero_grad(self) -> None:
        self._refuse("zero_grad")

    def _convert_to(self, dt) -> None:
        self._refuse_dtype(dt)

    def __setattr__(self, name, value):
        if name in self.__dict__.get("_buffers", {}):
            raise AttributeError(f"{name}: the weights of a quantized module are fixed; "
                                 f"load a state dict (load_state_dict) or quantize again")
        object.__setattr__(self, name, value)

    def __setstate__(self, state):
        super().__setstate__(state)
        for b in self.buffers():
            b.data.flags.writeable = False

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, weights={self.weight_dtype}"

    def __repr__(self):
        return f"{self.float_class.__name__}({self.extra_repr()})"

    def load_state_dict(self, state_dict, strict: bool = True):
        """Weights as ``state_dict()`` gives them (the keys and dtypes of
        the module docstring): checked whole before any is taken."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, "
                            f"got {type(state_dict).__name__}")
        buffers = self._buffers
        missing = [k for k in buffers if k not in state_dict]
        unexpected = [k for k in state_dict if k not in buffers]
        if strict and (missing or unexpected):
            hint = ""
            if any(k.endswith("_scale") for k in missing) and not any(
                    k.endswith("_scale") for k in state_dict):
                hint = (" (no scales: a float or bfloat16 state dict; load float weights "
                        "into the float module, then crnn.quantize it)")
            raise StateDictKeyError(f"state_dict: missing keys {missing}, unexpected keys "
                                    f"{unexpected} for {self!r}{hint}")
        arrays = {k: b.data for k, b in buffers.items()}
        for k in buffers:
            if k in state_dict:
                arrays[k] = self._checked_array(k, state_dict[k])
        self._take(arrays)
        return IncompatibleKeys(missing, unexpected)

    def _checked_array(self, name: str, value) -> np.ndarray:
        want = self._buffers[name].data
        if want.dtype != np.float32:           # stored int8 / bfloat16
            arr = np.asarray(value)
            if arr.dtype != want.dtype:
                raise TypeError(
                    f"{name}: expected {want.dtype} weights ({self.weight_dtype}), got "
                    f"{arr.dtype}: a float state dict goes into the float module, then "
                    f"crnn.quantize(module, dtype={self.weight_dtype!r}); a quantized one "
                    f"into crnn.quantize(...) of its own dtype")
        else:
            arr = as_array(value, np.float32, name)
        if arr.shape != want.shape:
            raise ValueError(f"{name}: expected shape {want.shape}, got {arr.shape}")
        if name.endswith("_scale") and not np.all(np.isfinite(arr) & (arr > 0)):
            bad = int(np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))[0])
            raise ValueError(f"{name}: scales must be positive, finite numbers, got "
                             f"{float(arr[bad])!r} at row {bad}")
        return arr


def _quantized_class(base):
    return type(f"Quantized{base.__name__}", (_Quantized, base),
                {"__module__": __name__, "float_class": base,
                 "__doc__": f"{base.__name__} with int8 or bfloat16 weights "
                            f"(crnn.quantize); inference only."})


QuantizedRNN, QuantizedLSTM, QuantizedGRU = (_quantized_class(c) for c in (RNN, LSTM, GRU))
QuantizedRNNCell, QuantizedLSTMCell, QuantizedGRUCell = (
    _quantized_class(c) for c in (RNNCell, LSTMCell, GRUCell))
_CLASSES = {c.float_class: c for c in (QuantizedRNN, QuantizedLSTM, QuantizedGRU,
                                       QuantizedRNNCell, QuantizedLSTMCell, QuantizedGRUCell)}


def _kind_of(module) -> type | None:
    """crnn's class of module's kind: RNN, LSTM, GRU or a cell (for a
    subclass of one, that one), or its quantized class; None for another
    module."""
    if isinstance(module, _Quantized):
        return _CLASSES[module.float_class]
    return next((c for c in type(module).__mro__ if c in _CLASSES), None)


def quantize(module: RNNBase | RNNCellBase, dtype: str = "int8"):
    """A new inference-only module of ``module``'s kind with its weight
    matrices stored as int8 (per-row scales) or bfloat16.

    Parameters
    ----------
    module : RNN, LSTM, GRU, RNNCell, LSTMCell or GRUCell
        The float module (float32 or float64); it is left untouched.
    dtype : {"int8", "bfloat16"}
        How the weights are stored (see the module docstring).

    Returns
    -------
    A module called exactly like ``module`` (same layers, directions,
    ``batch_first``, packed input, states), taking and returning float32,
    in eval mode; ``train()``, ``backward`` and dropout are refused. Its
    weights are read-only buffers (``named_buffers()``; they have no
    gradients), not parameters.

    Notes
    -----
    int8: each weight row is scaled by its largest magnitude, W ~
    scale[:, None] * q, q in [-127, 127]; every product quantizes its input
    rows on the fly (127 levels each side with AVX-512 VNNI, 63 on other
    x86 kernels, whose int16 pair sums must not saturate), sums in int32
    and scales back. bfloat16: the weights rounded to nearest even, widened
    to float32 in registers, float32 sums (its biases are stored as
    bfloat16 too, and widened). States and the gate arithmetic stay
    float32.

    The state dict (and so a saved file) holds the weight matrices under
    their usual names as int8 (torch's shapes) with their float32 row
    scales as ``<name>_scale`` (e.g. ``weight_hh_l0_scale``) and the
    biases as float32; or every parameter as uint16 bfloat16 bits. ``load_state_dict`` of a
    quantized module takes only that form (and refuses scales that are
    not positive, finite numbers); a float module refuses it.

    Examples
    --------
    >>> import numpy as np, crnn
    >>> q = crnn.quantize(crnn.GRU(8, 16), "int8")
    >>> q
    GRU(8, 16, weights=int8)
    >>> out, h = q(np.zeros((5, 1, 8), np.float32))
    >>> out.shape, out.dtype
    ((5, 1, 16), dtype('float32'))
    """
    dtype = check_choice(dtype, "dtype", tuple(TYPES))
    base = _kind_of(module)
    if base not in _CLASSES:
        raise TypeError(f"module: expected a float RNN, LSTM, GRU, RNNCell, LSTMCell or "
                        f"GRUCell, got {type(module).__name__}")
    arrays = quantized(((n, p.data) for n, p in module.named_parameters()), TYPES[dtype])
    q = construct(_CLASSES[base], {**module._arguments(base), "dtype": np.float32,
                                   "weight_dtype": dtype})
    q._take(arrays)
    return q
