"""How a call's arrays map onto the kernels' and back: the caller's input,
outputs and states (batched or not, batch_first, packed, a cell's one
step) against the kernels' (L, N, F) or packed (R, F) sequences and
per-layer-direction (N, F) states; and the small helpers that carve one
layer-direction's (or batch slice's) part out of them."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _kernels
from ._validate import as_kernel_array, check_input, check_rows
from .utils.rnn import PackedSequence


def _rows3(sl):
    """Index of an (L, N, F) sequence array for a batch slice."""
    return Ellipsis if sl is None else (slice(None), sl)


def _cols(out, sl, d, P):
    """Direction d's P columns of a batch slice (None: all of it) of the
    (L, N, D * P) output: out itself when that is all of it (None: no
    output wanted, as a cell's)."""
    if out is None or sl is None and d == 0 and out.shape[-1] == P:
        return out
    cols = slice(d * P, (d + 1) * P)
    return out[..., cols] if sl is None else out[:, sl, cols]


@lru_cache(maxsize=64)
def _padded(steps: int, size: int) -> _kernels.Batch:
    """The kernels' padded batch of L steps of N sequences: one object per
    shape (a stream asks for the same one at every call, and the kernels
    remember the sizes of the last batch they saw)."""
    return _kernels.Batch(steps, size)


def _kept_input(x: np.ndarray) -> np.ndarray:
    """The copy of its input that a training forward keeps for backward: the
    caller may change their array (or tensor, or packed data) meanwhile."""
    return np.array(x, copy=True)


def _reserve(direction, batch, dtype) -> np.ndarray:
    """The buffer a training forward of one layer-direction fills for its
    backward."""
    return np.empty(direction.sizes(batch).reserve, dtype)


def _at(first, second, i: int, sl, step: bool) -> tuple:
    """Layer-direction i's rows (a batch slice, None: all) of each state of
    two per-state lists in the kernels' form (a call's initial and final
    states, or their gradients; the absent: None), as (h, c, h', c');
    step: a cell's states, of its one layer-direction."""
    h, c = first[0], first[1] if len(first) > 1 else None
    hn, cn = second[0], second[1] if len(second) > 1 else None
    if step and sl is None:   # a cell's whole batch: the states themselves
        return h, c, hn, cn
    if not step:
        h, c, hn, cn = [None if a is None else a[i] for a in (h, c, hn, cn)]
    if sl is not None:
        h, c, hn, cn = [None if a is None else a[sl] for a in (h, c, hn, cn)]
    return h, c, hn, cn


class _Layout:
    """How the caller's arrays of a call's shape map onto the kernels' (L,
    N, F) or packed (R, F) arrays, both ways: the input, new outputs in the
    caller's layout (batch_first by strides), and states (packed: the
    caller's batch order against the kernels' sorted order). It holds no
    array of the call (a packed one's PackedSequence aside): a module
    keeps one per input shape it has seen (``_Recurrent._plain_call``).

    A state in the kernels' form is a (D * layers, N, F) array for a layer,
    (N, F) for a cell (``step``): a cell's call is a layer's of one step
    whose caller arrays lack the steps axis (input (N, I) or (I,)) and the
    layer-directions axis (states (N, F) or (F,))."""

    __slots__ = ("batched", "batch_first", "packed", "step", "L", "N", "batch", "key")

    def __init__(self, L, N, batched=True, batch_first=False, packed=None, step=False):
        self.batched, self.batch_first, self.step = batched, batch_first, step
        self.packed = packed           # the PackedSequence given, or None
        self.L, self.N = L, N
        self.batch = (_padded(L, N) if packed is None else
                      _kernels.Batch(L, N, packed.batch_sizes))
        # what a plan of the call depends on (crnn._schedule)
        self.key = (L, N, self.batch.rows, packed is not None)

    def batch_of(self, sl):
        """The kernels' batch for a slice of the (padded) batch, or the
        whole one (None)."""
        return self.batch if sl is None else _padded(self.L, sl.stop - sl.start)

    @classmethod
    def of_input(cls, module, input):
        """The layout of a module's input, checked (the module's messages
        for what it refuses)."""
        return cls.checked(module, input)[0]

    @classmethod
    def checked(cls, module, input):
        """(layout, the kernels' view of the input) of a module's input,
        checked and converted (the module's messages for what it
        refuses)."""
        step = module._step
        if isinstance(input, PackedSequence) and not step:
            x = as_kernel_array(input.data, module.dtype, "input.data")
            if x.ndim != 2 or x.shape[1] != module.input_size:
                raise ValueError(f"input.data: expected packed rows (sum of lengths, "
                                 f"{module.input_size}), got shape {x.shape}")
            check_rows(x.shape[0], int(input.batch_sizes[0]), module._kind.gate_size,
                       "input.data", x.shape)
            # checked again: the parts must agree, however it was built
            packed = PackedSequence(x, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
            sizes = packed.batch_sizes
            return cls(len(sizes), int(sizes[0]), packed=packed), x
        ranks = module._ranks
        x = check_input(input, module.dtype, module.input_size, ranks, module._kind.gate_size)
        batched = x.ndim == ranks[1]
        if not step and x.shape[x.ndim - 2 if module.batch_first and batched else 0] == 0:
            raise ValueError(f"input: expected a sequence length greater than 0, "
                             f"got shape {x.shape}")
        lay = cls.of_shape(module, x.shape, batched)
        return lay, lay.to_kernel(x)

    @classmethod
    def of_shape(cls, module, shape, batched):
        """The layout of a module's input of a checked shape."""
        if module._step:
            return cls(1, shape[0] if batched else 1, batched, step=True)
        if not batched:
            return cls(shape[0], 1, False)
        bf = module.batch_first
        return cls(shape[1], shape[0], True, True) if bf else cls(shape[0], shape[1])

    def seq_shape(self, F) -> tuple:
        """The kernels' shape of a sequence array of F features."""
        return (self.batch.rows, F) if self.packed is not None else (self.L, self.N, F)

    def to_kernel(self, arr):
        """A caller-layout sequence array as the kernels' view."""
        if self.packed is not None:
            return arr
        if self.batch_first:
            return arr.transpose(1, 0, 2)
        if self.step:
            return arr[None] if self.batched else arr[None, None]
        return arr if self.batched else arr[:, None, :]

    def user_of(self, kern):
        """The kernels' view of a sequence array as the caller sees it."""
        if self.packed is not None:
            return kern
        if self.batch_first:
            return kern.transpose(1, 0, 2)
        if self.step:
            return kern[0] if self.batched else kern[0, 0]
        return kern if self.batched else kern[:, 0, :]

    def new_user_array(self, F, dtype, zeros=False):
        """(what the caller gets, the kernels' view of it) for a new sequence
        array of F features."""
        make = np.zeros if zeros else np.empty
        if self.packed is not None:
            data = make((self.batch.rows, F), dtype)
            p = self.packed
            return PackedSequence._trusted(data, p.batch_sizes, p.sorted_indices,
                                           p.unsorted_indices), data
        if self.batch_first:   # C-contiguous for the caller
            user = make((self.N, self.L, F), dtype)
            return user, user.transpose(1, 0, 2)
        kern = make((self.L, self.N, F), dtype)
        return self.user_of(kern), kern

    @staticmethod
    def data_of(user):
        return user.data if isinstance(user, PackedSequence) else user

    def grad_data(self, grad):
        """The array inside an output gradient; a PackedSequence must have
        the forward's batch sizes and order."""
        if isinstance(grad, PackedSequence):
            p = self.packed
            if p is None:
                raise TypeError("grad_output: got a PackedSequence, but the forward "
                                "input was not packed")
            if not np.array_equal(grad.batch_sizes, p.batch_sizes) or not (
                    (grad.sorted_indices is None and p.sorted_indices is None) or
                    (grad.sorted_indices is not None and p.sorted_indices is not None and
                     np.array_equal(grad.sorted_indices, p.sorted_indices))):
                raise ValueError("grad_output: expected the batch_sizes and "
                                 "sorted_indices of the forward's packed output")
            return grad.data
        return grad

    # -- states: S = D * layers layer-directions of F features --------------
    def state_shape(self, S, F) -> tuple:
        """The shape the caller gives a state in: (S, N, F), unbatched
        (S, F); a cell's (N, F), unbatched (F,)."""
        if self.step:
            return (self.N, F) if self.batched else (F,)
        return (S, self.N, F) if self.batched else (S, F)

    def new_states(self, S, sizes, dtype, zeros=False) -> list:
        """New states of sizes features each, in the kernels' form; zeros:
        zeroed (else uninitialised)."""
        make, N = np.zeros if zeros else np.empty, self.N
        return [make((N, F) if self.step else (S, N, F), dtype) for F in sizes]

    def state_in(self, h):
        """A state of the caller's shape in the caller's batch order -> the
        kernels' form, in kernel order."""
        if self.packed is not None and self.packed.sorted_indices is not None:
            return h[:, self.packed.sorted_indices]
        if self.batched:
            return h
        return h[None] if self.step else h[:, None, :]

    def states_out(self, states: list) -> list:
        """state_out of each of a per-state list."""
        if self.packed is None and self.batched:   # as they are
            return states
        return [self.state_out(h) for h in states]

    def state_out(self, h):
        """A state in the kernels' form and order -> what the caller gets."""
        if self.packed is not None and self.packed.unsorted_indices is not None:
            return h[:, self.packed.unsorted_indices]
        if self.batched:
            return h
        return h[0] if self.step else h[:, 0, :]
