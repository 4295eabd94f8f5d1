"""Bulk inference over Dask arrays (``pip install "dask[array]" distributed``).

``predict(module, x)`` runs an eval-mode layer (RNN, LSTM, GRU) over a
dask array of sequences chunked along the batch axis: one task per chunk,
the chunks' outputs a dask array again. It runs wherever Dask runs: on the
threaded scheduler (crnn's kernels release the GIL, and eval-mode calls
of one module may overlap) or on a ``distributed`` cluster, whose workers
receive the module pickled, once each::

    import dask.array as da, crnn, crnn.dask
    x = da.from_zarr(...)                         # (L, N, H_in), chunks along N
    out = crnn.dask.predict(lstm.eval(), x)       # (L, N, D * H_out), lazy
    out.to_zarr(...)

The tasks run in the caller's mode (``crnn.use_deterministic_algorithms``,
as it is when ``predict`` is called), on every worker. In the
deterministic mode a sequence's outputs are the same bits in any chunk of
any batch (crnn's forward then does not depend on the batch around a
sequence), so the result equals one ``module(x)`` call on the whole array;
in the default mode (BLAS for the products over many rows) it equals it
within float rounding.
"""
from __future__ import annotations

import math

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as e:   # pragma: no cover - the [dask] extra brings it
    from ._extras import missing
    raise missing("crnn.dask", "dask", e) from e

from . import _kernels
from ._determinism import use_deterministic_algorithms
from .rnn import RNNBase
from .utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["predict"]


def _checked_module(module) -> RNNBase:
    if not isinstance(module, RNNBase):
        raise TypeError(f"module: expected a crnn layer (RNN, LSTM, GRU), got "
                        f"{type(module).__name__}")
    if module.training:
        raise ValueError("module: expected a module in eval mode (call module.eval(); "
                         "predict keeps nothing for backward), got training mode")
    return module


def _checked_input(module, x, rechunk: bool):
    """x with one chunk along time and features (rechunked if allowed)."""
    if not isinstance(x, da.Array):
        raise TypeError(f"x: expected a dask array (dask.array.from_array(x, chunks=...)), "
                        f"got {type(x).__name__}")
    b = 0 if module.batch_first else 1
    layout = "(N, L, H_in)" if module.batch_first else "(L, N, H_in)"
    if x.ndim != 3 or x.shape[2] != module.input_size:
        raise ValueError(f"x: expected shape {layout} with H_in={module.input_size}, got "
                         f"shape {x.shape}")
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(f"x: expected known chunk sizes, got chunks {x.chunks} (call "
                         f"x.compute_chunk_sizes() first)")
    if len(x.chunks[1 - b]) > 1 or len(x.chunks[2]) > 1:
        if not rechunk:
            raise ValueError(f"x: expected chunks along the batch axis {b} of {layout} "
                             f"only (each sequence whole in one chunk), got chunks "
                             f"{x.chunks}; pass rechunk=True to merge the others")
        x = x.rechunk({1 - b: -1, 2: -1})
    return x, b


def _checked_lengths(lengths, x, b):
    """lengths as a 1-d dask array chunked as x's batch axis, or None."""
    if lengths is None:
        return None
    if not isinstance(lengths, da.Array):
        lengths = np.asarray(lengths)
    if lengths.shape != (x.shape[b],) or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths: expected integers of shape ({x.shape[b]},) (one per "
                         f"sequence), got {lengths.dtype} of shape {lengths.shape}")
    if isinstance(lengths, np.ndarray):
        return da.from_array(lengths, chunks=(x.chunks[b],))
    return lengths.rechunk((x.chunks[b],))


def _run_chunk(module, x, lengths, return_state, deterministic=False):
    """One chunk: (out, *final states); a padded chunk with lengths goes in
    packed (no work past each sequence's end), out padded with zeros. A
    worker in another process takes the caller's mode (and keeps it)."""
    if _kernels.is_deterministic() != deterministic:
        use_deterministic_algorithms(deterministic)
    bf = module.batch_first
    if lengths is None:
        out, state = module(x)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False)
        out, state = module(packed)
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=x.shape[int(bf)])
    if not return_state:
        return (out,)
    return (out,) + (tuple(state) if isinstance(state, tuple) else (state,))


def _state_shapes(module, n: int):
    rows = module.num_directions * module.num_layers
    shapes = [(rows, n, module.proj_size or module.hidden_size)]
    if module.mode == "LSTM":
        shapes.append((rows, n, module.hidden_size))
    return shapes


def predict(module, x, lengths=None, *, return_state=False, rechunk=True):
    """Run an eval-mode RNN, LSTM or GRU over a dask array of sequences.

    x: (L, N, H_in), or (N, L, H_in) for a ``batch_first`` module, chunked
    along N (a chunk of sequences per task); chunks along L or H_in are
    merged (``rechunk=True``) or refused (``rechunk=False``). lengths:
    optional per-sequence lengths (N,) (an array or a dask array), each
    chunk then runs packed and its outputs past a sequence's end are 0.
    Returns a dask array out (L, N, D * H_out) (batch_first: (N, L, ...)),
    chunked as x along N; with ``return_state``, ``(out, h_n)`` (LSTM:
    ``(out, (h_n, c_n))``), h_n (D * num_layers, N, H_out) chunked along N.
    """
    module = _checked_module(module)
    x, b = _checked_input(module, x, rechunk)
    lengths = _checked_lengths(lengths, x, b)
    mod = dask.delayed(module, pure=True)
    L, feat = x.shape[1 - b], module.num_directions * (module.proj_size or module.hidden_size)
    blocks = x.to_delayed().ravel()
    lens = [None] * len(blocks) if lengths is None else lengths.to_delayed().ravel()
    outs, states = [], []
    for block, n, lb in zip(blocks, x.chunks[b], lens):
        res = dask.delayed(_run_chunk, pure=True)(mod, block, lb, return_state,
                                                  _kernels.is_deterministic())
        shape = (n, L, feat) if module.batch_first else (L, n, feat)
        outs.append(da.from_delayed(res[0], shape, dtype=module.dtype))
        states.append([da.from_delayed(res[i + 1], s, dtype=module.dtype)
                       for i, s in enumerate(_state_shapes(module, n))])
    out = da.concatenate(outs, axis=b)
    if not return_state:
        return out
    finals = [da.concatenate(parts, axis=1) for parts in zip(*states)]
    return out, (tuple(finals) if module.mode == "LSTM" else finals[0])
