"""Module and Parameter: torch.nn's bookkeeping over flat NumPy buffers.

Every module keeps all its parameters in one contiguous array and all their
gradients in a second one; each named parameter is a pair of views into
them. Optimizers, gradient clipping or an all-reduce can then act on one
array (``module.flat_parameters`` / ``module.flat_gradients``).

A module may also keep buffers (``Buffer``): named arrays that are part of
its state dict but not trained, without gradients (crnn.quantize's fixed
int8 / bfloat16 weights).

Modules pickle with their parameters as views of the flat buffers
(``_pickling``).
"""
from __future__ import annotations

import inspect
import threading
from collections import namedtuple
from typing import Any, Iterator

import numpy as np

from . import _random
from ._errors import ParameterShapeError, StateDictKeyError
from ._pickling import aliasing_state, by_reference, view_of
from ._qformat import refuse_quantized
from ._validate import as_array, check_dtype

# pickles written before the pickling machinery had a module of its own name
# this place for the view reconstructor
_view_of = view_of

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _is_torch_dtype(value) -> bool:
    """A torch.dtype, recognised without importing torch."""
    return type(value).__module__ == "torch" and type(value).__name__ == "dtype"


def _to_arguments(args, kwargs):
    """(device, dtype) of a call ``module.to(...)`` in any of torch's forms."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(unknown)}")
    if len(args) > 2:
        raise TypeError(f"to(): expected at most a device and a dtype, got {len(args)} "
                        f"positional arguments")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, str) and not _is_dtype_name(a) or type(a).__name__ == "device":
            device = a
        elif not isinstance(a, type) and hasattr(a, "dtype") and hasattr(a, "shape"):
            # an array or a tensor: its dtype (and device)
            dtype = a.dtype
            device = getattr(a, "device", device)
        else:
            dtype = a
    return device, dtype


def _is_dtype_name(text: str) -> bool:
    """NumPy's name of a dtype ("float64"), not of a device ("cpu")."""
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True


def _check_device(device, name: str) -> None:
    text = str(device)
    if text != "cpu" and not text.startswith("cpu:"):
        raise ValueError(f"{name}: crnn runs on the CPU only; expected 'cpu', got {text!r}")


class _Named:
    """What a parameter and a buffer share: a name, and an array that
    ``data`` gives and ``np.asarray`` reads."""

    __slots__ = ("name", "_data")

    def __init__(self, name: str, data: np.ndarray):
        self.name = name
        self._data = data

    @property
    def data(self) -> np.ndarray:
        return self._data

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __repr__(self):
        return f"{type(self).__name__} {self.name} {self._data!r}"


class Parameter(_Named):
    """A named parameter: ``data`` and ``grad`` are ndarray views into the
    owning module's flat parameter and gradient buffers. Writing into them
    (``p.data[...] = v``) or assigning them (``p.data = v``, copied in after
    a shape check; ``p.grad = None`` zeroes the gradient) changes the
    module; the views themselves stay."""

    __slots__ = ("_grad",)

    def __init__(self, name: str, data: np.ndarray, grad: np.ndarray):
        super().__init__(name, data)
        self._grad = grad

    @_Named.data.setter
    def data(self, value):
        self._data[...] = self._checked(value, self.name)

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad[...] = 0
        else:
            self._grad[...] = self._checked(value, f"{self.name}.grad")

    def _checked(self, value, name):
        arr = as_array(value, self._data.dtype, name)
        if arr.shape != self._data.shape:
            raise ParameterShapeError(f"{name}: expected shape {self._data.shape}, "
                                      f"got {arr.shape}")
        return arr

    def __reduce__(self):
        return Parameter, (self.name, by_reference(self._data), by_reference(self._grad))


class Buffer(_Named):
    """A named array a module keeps that is not trained (torch's buffers):
    in its state dict, not among its parameters, without a gradient
    (``grad`` is None, as a torch buffer's). crnn.quantize's int8 and
    bfloat16 weights are buffers, read-only: packed once, they must not
    change."""

    __slots__ = ()

    grad = None

    def __reduce__(self):
        return Buffer, (self.name, by_reference(self._data))


# set while construct builds a module: its parameters stay zero
_skipping = threading.local()


def construct(cls, arguments: dict, generator=None):
    """``cls(**arguments, generator=generator)``, through its constructor,
    with its parameters left zero — nothing is drawn from any generator
    (as torch.nn.utils.skip_init) — for a module whose weights are loaded
    next (``arguments``: another module's, as ``_arguments`` gives them)."""
    was = getattr(_skipping, "on", False)
    _skipping.on = True
    try:
        return cls(**arguments, generator=generator)
    finally:
        _skipping.on = was


class Module:
    """Base of every crnn layer: parameters, training mode, state dicts."""

    def __init__(self, dtype, seed=None, generator=None):
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_training_call", threading.Lock())
        self.dtype = check_dtype(dtype)
        self.training = True
        if generator is not None and seed is not None:
            raise ValueError("give either seed or generator, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator: expected a numpy.random.Generator, "
                            f"got {type(generator).__name__}")
        # None: draw from the global generator that crnn.manual_seed sets
        self._generator = (np.random.default_rng(seed) if seed is not None
                           else generator)

    # -- parameters ---------------------------------------------------------
    def _allocate(self, specs) -> None:
        """Lay out parameters [(name, shape), ...] in two flat buffers."""
        sizes = [int(np.prod(shape)) for _, shape in specs]
        total = sum(sizes)
        self.flat_parameters = np.zeros(total, dtype=self.dtype)
        self.flat_gradients = np.zeros(total, dtype=self.dtype)
        params, at = {}, 0
        for (name, shape), size in zip(specs, sizes):
            params[name] = Parameter(
                name, self.flat_parameters[at:at + size].reshape(shape),
                self.flat_gradients[at:at + size].reshape(shape))
            at += size
        object.__setattr__(self, "_params", params)

    @property
    def rng(self) -> np.random.Generator:
        return self._generator if self._generator is not None else _random.global_generator()

    def _init_uniform(self, bound: float) -> None:
        """Every parameter ~ U(-bound, bound), in named_parameters order
        (left zero under construct)."""
        if getattr(_skipping, "on", False):
            return
        for p in self._params.values():
            p.data[...] = self.rng.uniform(-bound, bound, size=p.shape)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """``(name, Parameter)`` pairs, in torch's order and with its names."""
        yield from self._params.items()

    def parameters(self) -> Iterator[Parameter]:
        """The parameters, in torch's order (e.g. for an optimizer)."""
        yield from self._params.values()

    def named_buffers(self) -> Iterator[tuple[str, Buffer]]:
        """``(name, Buffer)`` pairs: the state that is not trained."""
        yield from self.__dict__.get("_buffers", {}).items()

    def buffers(self) -> Iterator[Buffer]:
        """The buffers (arrays in the state dict that are not trained)."""
        yield from self.__dict__.get("_buffers", {}).values()

    @property
    def _tensors(self) -> dict:
        """{name: Parameter or Buffer}: everything the state dict holds."""
        buffers = self.__dict__.get("_buffers")
        return {**self._params, **buffers} if buffers else self._params

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero (``backward`` adds to them)."""
        self.flat_gradients[...] = 0

    def __getattr__(self, name):
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        params = self.__dict__.get("_params", {})
        if name in params:
            params[name].data[...] = self._checked_value(name, value)
        else:
            object.__setattr__(self, name, value)

    def _checked_value(self, name, value):
        try:
            return self._params[name]._checked(value, name)
        except ParameterShapeError as e:
            fit = self._fitting_arguments(name, tuple(np.shape(value)))
            if not fit:
                raise
            args = ", ".join(f"{k}={v}" for k, v in fit.items())
            raise ParameterShapeError(f"{e}: a {type(self).__name__} built with {args} "
                                      f"would fit it") from None

    def _state_dict_hint(self, state_dict) -> str:
        """What else a state dict whose shapes do not fit seems made for
        ("" if nothing is known)."""
        return ""

    def _fitting_arguments(self, name: str, shape: tuple) -> dict:
        """The constructor arguments, differing from this module's, under
        which parameter ``name`` would have ``shape`` ({} if none is known)."""
        return {}

    def _arguments(self, cls=None) -> dict:
        """The constructor's arguments that made this module, by keyword:
        each is kept under its name (``input_size``, ``bias``, ``dtype``...),
        so that ``type(self)(**self._arguments())`` builds its twin; cls: the
        class whose constructor's arguments are wanted (default this one's).
        Keyword-only arguments (``seed``, ``generator``) are not kept."""
        params = inspect.signature((cls or type(self)).__init__).parameters
        return {n: getattr(self, n) for n, p in list(params.items())[1:]
                if p.kind is p.POSITIONAL_OR_KEYWORD}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``module(...)`` is ``module.forward(...)``."""
        return self.forward(*args, **kwargs)

    # -- pickling -----------------------------------------------------------
    # attributes built from the others (the kernels' objects, which hold
    # the buffers of this process): left out of a pickle, built anew
    _derived: tuple = ()

    def __getstate__(self):
        """Weights, gradients, mode and settings, the parameters as views of
        the flat buffers; not the lock, nor a pending training forward (a
        backward after unpickling raises as after none), nor what
        ``_derive`` builds."""
        state = aliasing_state(self)
        del state["_training_call"]
        for name in self._derived:
            state.pop(name, None)
        if "_saved" in state:
            state["_saved"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        object.__setattr__(self, "_training_call", threading.Lock())
        self._derive()

    def _derive(self) -> None:
        """Build the attributes named in ``_derived`` from the others."""

    def _run(self, method, what, *args):
        """Run a forward or backward body. Training calls (which keep state
        for backward and add to the gradients) on one module must not
        overlap: a second one while another thread runs one is refused.
        Eval-mode forwards keep nothing and run concurrently."""
        if what == "forward" and not self.training:
            return method(*args)
        if not self._training_call.acquire(blocking=False):
            raise RuntimeError(f"{what}: another thread is running a training forward or "
                               f"backward of this {type(self).__name__}; training calls on "
                               f"one module must not overlap (eval-mode forwards may)")
        try:
            return method(*args)
        finally:
            self._training_call.release()

    # -- modes --------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False``: eval mode) and return the module.

        In training mode a forward keeps what ``backward`` needs and
        applies dropout; in eval mode it keeps nothing and may run from
        several threads at once.
        """
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set eval mode (``train(False)``) and return the module."""
        return self.train(False)

    # -- dtype and device: torch's methods ----------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert the parameters (and their gradients) to another dtype, in
        place, and return the module, as torch's ``module.to``.

        Takes torch's forms: ``to(dtype)``, ``to(device)``, ``to(device,
        dtype)``, ``to(array_or_tensor)`` (its dtype), and the keywords
        ``device``, ``dtype``, ``non_blocking`` (ignored). The dtype is
        float32 or float64 (NumPy's or torch's); the only device is the CPU
        (``"cpu"``: nothing to do). As in torch, build an optimizer after
        converting: one built before holds the former arrays (its ``step``
        then says so). A pending training forward is dropped: run the
        forward again before ``backward``.
        """
        device, dtype = _to_arguments(args, kwargs)
        if device is not None:
            _check_device(device, "device")
        if dtype is not None:
            self._convert(dtype)
        return self

    def float(self) -> Module:
        """Parameters as float32 (``to(np.float32)``); returns the module."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Parameters as float64 (``to(np.float64)``); returns the module."""
        return self.to(np.float64)

    def half(self) -> Module:
        """Refused: crnn computes in float32 or float64."""
        raise TypeError(f"half(): crnn computes in float32 or float64, not float16; for "
                        f"16-bit weights use crnn.quantize({type(self).__name__}(...), "
                        f"'bfloat16')")

    def bfloat16(self) -> Module:
        """Refused: crnn computes in float32 or float64."""
        raise TypeError(f"bfloat16(): crnn computes in float32 or float64; for bfloat16 "
                        f"weights use crnn.quantize({type(self).__name__}(...), 'bfloat16')")

    def cpu(self) -> Module:
        """The module itself: crnn runs on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Refused: crnn runs on the CPU only."""
        raise RuntimeError("cuda(): crnn runs on the CPU only (NumPy arrays); there is no "
                           "GPU to move the module to")

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """torch's switch for gradients: crnn's ``backward`` computes every
        parameter's gradient, so ``requires_grad_()`` (True) returns the
        module as it is; ``False`` is refused (keep weights fixed by leaving
        their parameters out of the optimizer)."""
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad: expected a bool, got "
                            f"{type(requires_grad).__name__} {requires_grad!r}")
        if not requires_grad:
            raise ValueError("requires_grad: crnn's backward computes the gradient of every "
                             "parameter; expected True, got False (to keep these weights "
                             "fixed, leave the module's parameters out of the optimizer)")
        return self

    def _convert(self, dtype) -> None:
        """The parameters and gradients as dtype (NumPy's or torch's)."""
        if _is_torch_dtype(dtype):
            dtype = str(dtype).split(".")[-1]
        dt = check_dtype(dtype)
        if dt != self.dtype:
            self._convert_to(dt)

    def _convert_to(self, dt: np.dtype) -> None:
        """The parameters and gradients as another dtype, the same Parameter
        objects pointing into the new flat buffers."""
        flat_p, flat_g = self.flat_parameters.astype(dt), self.flat_gradients.astype(dt)
        at = 0
        for p in self._params.values():
            p._data = view_of(flat_p, at, p.shape)
            p._grad = view_of(flat_g, at, p.shape)
            at += p._data.size
        self.flat_parameters, self.flat_gradients = flat_p, flat_g
        self.dtype = dt
        if "_saved" in self.__dict__:
            self._saved = None
        self._derive()

    # -- state dicts --------------------------------------------------------
    def state_dict(self) -> dict:
        """{name: array copy}, with torch's keys and shapes: the parameters,
        then the buffers."""
        return {name: p.data.copy() for name, p in self._tensors.items()}

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or anything np.asarray takes: torch CPU tensors too)
        into the parameters by name. strict: missing or unexpected keys are
        an error; shapes must always match."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, "
                            f"got {type(state_dict).__name__}")
        refuse_quantized(state_dict, self._params, type(self).__name__)
        missing = [k for k in self._params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self._params]
        if strict and (missing or unexpected):
            hint = self._state_dict_hint(state_dict)
            raise StateDictKeyError(f"state_dict: missing keys {missing}, unexpected keys "
                                    f"{unexpected} for {type(self).__name__}"
                                    + (f"; {hint}" if hint else ""))
        values = {}
        for k in self._params:
            if k not in state_dict:
                continue
            try:
                values[k] = self._checked_value(k, state_dict[k])
            except ParameterShapeError:
                hint = self._state_dict_hint(state_dict)   # another kind's weights
                if not hint:
                    raise
                raise ParameterShapeError(f"{k}: expected shape {self._params[k].shape}, got "
                                          f"{tuple(np.shape(state_dict[k]))}; {hint}") from None
        for k, v in values.items():  # all checked before any is written
            self._params[k].data[...] = v
        return IncompatibleKeys(missing, unexpected)

    # -- repr ---------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown inside ``repr(module)``, as torch's."""
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"
