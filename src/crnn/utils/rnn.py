"""Packed variable-length batches, as torch.nn.utils.rnn, over NumPy arrays.

A ``PackedSequence`` holds the time steps of a batch of sequences of
different lengths one after another: ``data`` is ``(sum of lengths, *)`` with
the rows of step t — one per sequence still running at t, longest first —
before those of step t + 1; ``batch_sizes[t]`` counts them. The layers
(``crnn.RNN``, ``LSTM``, ``GRU``) take and return packed batches and do no
arithmetic on padding.
"""
from __future__ import annotations

import numbers
from collections import namedtuple
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._validate import is_tensor, tensor_to_numpy

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "pad_sequence", "unpack_sequence", "unpad_sequence",
           "invert_permutation"]


def _to_numpy(value):
    if is_tensor(value):
        return tensor_to_numpy(value)
    return np.asarray(value)


def _index_array(value, name, n=None):
    """A 1-D int64 array of whole numbers (lists, int arrays, integral
    floats, torch tensors)."""
    arr = _to_numpy(value)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of ints, got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integers, got dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} entries, got {arr.shape[0]}")
    return arr.astype(np.int64, copy=False)


def invert_permutation(permutation: ArrayLike | None) -> np.ndarray | None:
    """The inverse of a permutation (None stays None)."""
    if permutation is None:
        return None
    perm = np.asarray(permutation, dtype=np.int64)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size, dtype=np.int64)
    return inv


def _check_permutation(perm, name, n):
    perm = _index_array(perm, name, n)
    if not np.array_equal(np.sort(perm), np.arange(n)):
        raise ValueError(f"{name}: expected a permutation of 0..{n - 1}, got {perm.tolist()}")
    return perm


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch of sequences of different lengths, as torch's.

    Parameters
    ----------
    data : ndarray
        ``(sum of lengths, *)``: the rows of step t, one per sequence still
        running at t, longest first, before those of step t + 1.
    batch_sizes : array_like of int
        One count per time step, non-increasing (stored as int64).
    sorted_indices : array_like of int, optional
        The batch order by decreasing length: packed sequence j is original
        sequence ``sorted_indices[j]``; None when the batch was sorted.
    unsorted_indices : array_like of int, optional
        The inverse permutation of ``sorted_indices``.

    Notes
    -----
    Checked on construction (``_replace`` too): the parts must agree.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        data = _to_numpy(data)
        if data.ndim < 1:
            raise ValueError(f"data: expected at least 1-D packed rows, got shape {data.shape}")
        batch_sizes = _index_array(batch_sizes, "batch_sizes")
        if batch_sizes.size == 0:
            raise ValueError("batch_sizes: expected at least one time step, got none")
        if (batch_sizes < 1).any() or (np.diff(batch_sizes) > 0).any():
            raise ValueError(f"batch_sizes: expected positive, non-increasing counts, "
                             f"got {batch_sizes.tolist()}")
        if int(batch_sizes.sum()) != data.shape[0]:
            raise ValueError(f"data: expected {int(batch_sizes.sum())} rows (the sum of "
                             f"batch_sizes), got shape {data.shape}")
        n = int(batch_sizes[0])
        if sorted_indices is not None:
            sorted_indices = _check_permutation(sorted_indices, "sorted_indices", n)
        if unsorted_indices is not None:
            unsorted_indices = _check_permutation(unsorted_indices, "unsorted_indices", n)
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        elif sorted_indices is None:
            sorted_indices = invert_permutation(unsorted_indices)
        elif not np.array_equal(sorted_indices[unsorted_indices], np.arange(n)):
            raise ValueError("unsorted_indices: expected the inverse of sorted_indices")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @classmethod
    def _make(cls, iterable):
        """namedtuple's constructor behind ``_replace``: checked too."""
        return cls(*iterable)

    @classmethod
    def _trusted(cls, data, batch_sizes, sorted_indices, unsorted_indices):
        """Built from parts already known to agree (no checks)."""
        return tuple.__new__(cls, (data, batch_sizes, sorted_indices, unsorted_indices))

    @property
    def lengths(self) -> np.ndarray:
        """Each sequence's length, in the original batch order."""
        n = int(self.batch_sizes[0])
        lengths = (self.batch_sizes[None, :] > np.arange(n)[:, None]).sum(1)
        return lengths if self.unsorted_indices is None else lengths[self.unsorted_indices]


def _step_mask(sorted_lengths, steps):
    """(steps, N) mask of the (t, n) that exist, n in sorted order: True in
    row-major order is exactly the packed order."""
    return np.arange(steps)[:, None] < sorted_lengths[None, :]


def pack_padded_sequence(input: ArrayLike, lengths: ArrayLike, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of sequences of the given lengths.

    Parameters
    ----------
    input : array_like
        ``(T, B, *)``, or ``(B, T, *)`` with ``batch_first``.
    lengths : array_like of int
        B lengths, each in 1..T.
    batch_first : bool, default False
        Whether the batch is the first axis of ``input``.
    enforce_sorted : bool, default True
        The lengths must be in decreasing order; otherwise the batch is
        sorted and the permutation kept in the result.

    Returns
    -------
    PackedSequence
    """
    x = _to_numpy(input)
    if x.ndim < 2:
        raise ValueError(f"input: expected a padded batch (T, B, *) of at least 2-D, "
                         f"got shape {x.shape}")
    if batch_first:
        x = np.swapaxes(x, 0, 1)
    T, B = x.shape[:2]
    lengths = _index_array(lengths, "lengths")
    if lengths.shape[0] != B:
        raise ValueError(f"lengths: expected one length per sequence of the batch "
                         f"(batch_size={B}), got {lengths.shape[0]}")
    if B == 0:
        raise ValueError("input: cannot pack an empty batch")
    if (lengths <= 0).any():
        raise ValueError(f"lengths: expected every length greater than 0, got "
                         f"{lengths.tolist()}")
    if (lengths > T).any():
        raise ValueError(f"lengths: expected lengths at most the padded sequence "
                         f"length {T}, got {lengths.tolist()}")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise ValueError(f"lengths: expected decreasing order when enforce_sorted="
                             f"True, got {lengths.tolist()}; pass enforce_sorted=False "
                             f"to have the batch sorted")
        sorted_indices = None
        sorted_lengths = lengths
        xs = x
    else:
        sorted_indices = np.argsort(-lengths, kind="stable").astype(np.int64)
        sorted_lengths = lengths[sorted_indices]
        xs = x[:, sorted_indices]
    steps = int(sorted_lengths[0])
    data = xs[:steps][_step_mask(sorted_lengths, steps)]
    batch_sizes = (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(1)
    return PackedSequence(data, batch_sizes.astype(np.int64), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`pack_padded_sequence`.

    Parameters
    ----------
    sequence : PackedSequence
        The packed batch.
    batch_first : bool, default False
        Return ``(B, T, *)`` instead of ``(T, B, *)``.
    padding_value : float, default 0.0
        The value of the padding.
    total_length : int, optional
        T, at least the longest length (default: the longest length).

    Returns
    -------
    padded : ndarray
        ``(T, B, *)`` (``batch_first``: ``(B, T, *)``), in the original batch
        order.
    lengths : ndarray of int64
        Each sequence's length.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes, _, unsorted = sequence
    steps, n = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral) \
                or total_length < steps:
            raise ValueError(f"total_length: expected at least the length of the longest "
                             f"sequence ({steps}), got {total_length!r}")
        steps_out = int(total_length)
    else:
        steps_out = steps
    sorted_lengths = (batch_sizes[None, :] > np.arange(n)[:, None]).sum(1)
    out = np.full((steps_out, n) + data.shape[1:], padding_value, dtype=data.dtype)
    out[:steps][_step_mask(sorted_lengths, steps)] = data
    lengths = sorted_lengths
    if unsorted is not None:
        out = out[:, unsorted]
        lengths = sorted_lengths[unsorted]
    if batch_first:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))
    return out, lengths.astype(np.int64)


def pad_sequence(sequences: Sequence[ArrayLike], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> np.ndarray:
    """Stack sequences of different lengths into one padded array.

    Parameters
    ----------
    sequences : list of array_like
        Each ``(L_i, *)``, the trailing shape the same for all.
    batch_first : bool, default False
        Return ``(B, max L_i, *)`` instead of ``(max L_i, B, *)``.
    padding_value : float, default 0.0
        The value of the padding.
    padding_side : {"right", "left"}, default "right"
        Where the padding goes.

    Returns
    -------
    ndarray
    """
    seqs = [_to_numpy(s) for s in sequences]
    if not seqs:
        raise ValueError("sequences: received an empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side: expected 'right' or 'left', got {padding_side!r}")
    tail = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != tail:
            raise ValueError(f"sequences: expected every sequence to have shape (L, *{tail}), "
                             f"got {s.shape} at index {i}")
    longest = max(s.shape[0] for s in seqs)
    out = np.full((len(seqs), longest) + tail, padding_value,
                  dtype=np.result_type(*[s.dtype for s in seqs]))
    for i, s in enumerate(seqs):
        if padding_side == "right":
            out[i, :s.shape[0]] = s
        else:
            out[i, longest - s.shape[0]:] = s
    return out if batch_first else np.ascontiguousarray(np.swapaxes(out, 0, 1))


def unpad_sequence(padded_sequences: ArrayLike, lengths: ArrayLike,
                   batch_first: bool = False) -> list[np.ndarray]:
    """The list of sequences of a padded batch, each cut to its length."""
    x = _to_numpy(padded_sequences)
    if not batch_first:
        x = np.swapaxes(x, 0, 1)
    lengths = _index_array(lengths, "lengths", x.shape[0])
    if (lengths < 0).any() or (lengths > x.shape[1]).any():
        raise ValueError(f"lengths: expected lengths in 0..{x.shape[1]}, got {lengths.tolist()}")
    return [x[i, :int(l)].copy() for i, l in enumerate(lengths)]


def pack_sequence(sequences: Sequence[ArrayLike], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences, each ``(L_i, *)``.

    Parameters
    ----------
    sequences : list of array_like
        The sequences; with ``enforce_sorted`` they must come longest first.
    enforce_sorted : bool, default True
        As in :func:`pack_padded_sequence`.

    Returns
    -------
    PackedSequence
    """
    seqs = [_to_numpy(s) for s in sequences]
    if not seqs:
        raise ValueError("sequences: received an empty list of sequences")
    lengths = [s.shape[0] if s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[np.ndarray]:
    """The list of sequences of a packed batch, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
