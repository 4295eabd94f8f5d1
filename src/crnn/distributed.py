"""Data-parallel training over MPI, through mpi4py (``pip install mpi4py mpich``).

Every rank holds the same model and trains on its own share of the batch;
after each backward the gradients are summed (or averaged) across ranks,
so every rank takes the same optimizer step::

    from crnn import distributed as dist
    dist.abort_on_exception()                    # an error on one rank ends the job
    dist.broadcast_parameters([gru, head])       # every rank starts from rank 0's
    mine = dist.share(len(x))                    # this rank's slice of the batch
    ...forward/backward on x[mine]...
    dist.allreduce_gradients([gru, head])        # the mean of the ranks' gradients
    opt.step()

Run it with ``mpiexec -n 4 python train.py``. Each call moves one
contiguous buffer in one collective: a module's flat buffer itself, or
the modules' buffers copied into one (the idea of Horovod's fusion
buffer). Before its first collective for a list of modules, every rank
checks that all ranks hold the same parameter layout (names, shapes,
dtypes); a mismatch raises the same ``LayoutMismatchError`` on every rank.
"""
from __future__ import annotations

import sys
import traceback

import numpy as np

try:
    from mpi4py import MPI
except ImportError as e:   # pragma: no cover - the [mpi] extra brings it
    from ._extras import missing
    raise missing("crnn.distributed (mpi4py and an MPI library)", "mpi", e) from e

from . import _threads
from ._errors import LayoutMismatchError
from ._module import Module

# LayoutMismatchError (importable from here too) is documented as
# crnn.LayoutMismatchError
__all__ = ["broadcast_parameters", "allreduce_gradients", "share", "abort_on_exception",
           "check_layout", "set_threads_per_rank"]


def _modules(modules) -> list:
    mods = [modules] if isinstance(modules, Module) else list(modules)
    if not mods:
        raise ValueError("modules: expected a Module or a non-empty list of Modules, "
                         "got an empty list")
    for m in mods:
        if not isinstance(m, Module):
            raise TypeError(f"modules: expected crnn Modules, got {type(m).__name__}")
    dtypes = {m.dtype for m in mods}
    if len(dtypes) > 1:
        raise ValueError(f"modules: expected one dtype for all (one buffer per call), got "
                         f"{sorted(np.dtype(d).name for d in dtypes)}")
    return mods


def _layout(mods) -> list:
    return [(i, type(m).__name__, name, tuple(p.shape), np.dtype(p.dtype).name)
            for i, m in enumerate(mods) for name, p in m.named_parameters()]


def _first_difference(a, b) -> str:
    for x, y in zip(a, b):
        if x != y:
            return f"{_describe(y)} where rank 0 has {_describe(x)}"
    return f"{len(b)} parameters where rank 0 has {len(a)}"


def _describe(entry) -> str:
    i, kind, name, shape, dtype = entry
    return f"modules[{i}] ({kind}) {name} {shape} {dtype}"


_checked: set = set()


def check_layout(modules, comm=None) -> None:
    """Raise LayoutMismatchError on every rank unless every rank's modules
    have the same parameter names, shapes and dtypes, in the same order
    (one allgather of the layouts; collective: every rank must call it)."""
    comm = MPI.COMM_WORLD if comm is None else comm
    layouts = comm.allgather(_layout(_modules(modules)))
    bad = [r for r in range(1, len(layouts)) if layouts[r] != layouts[0]]
    if bad:
        lines = [f"rank {r}: {_first_difference(layouts[0], layouts[r])}" for r in bad]
        raise LayoutMismatchError("modules: the ranks' parameter layouts differ (names, "
                                  "shapes, dtypes must match rank 0's): " + "; ".join(lines))


def _checked_once(mods, comm, again: bool = False) -> None:
    """check_layout at the first collective for these modules on comm
    (again: whether or not it ran before)."""
    key = (comm.py2f(), tuple(id(m) for m in mods), tuple(_layout(mods)))
    if again or key not in _checked:
        check_layout(mods, comm)
        _checked.add(key)


def _mpi_type(dtype):
    return MPI.FLOAT if np.dtype(dtype) == np.float32 else MPI.DOUBLE


def _collective(mods, attr, run) -> None:
    """run(buf) on the modules' flat buffers `attr` as one contiguous
    buffer: the module's own one, or all copied into one and back."""
    bufs = [getattr(m, attr) for m in mods]
    if len(bufs) == 1:
        run(bufs[0])
        return
    fused = np.concatenate(bufs)
    run(fused)
    at = 0
    for b in bufs:
        b[...] = fused[at:at + b.size]
        at += b.size


def broadcast_parameters(modules, comm=None, root: int = 0) -> None:
    """Give every rank root's parameters (a Module or a list of them), in
    place: one broadcast of one buffer, after the layout check."""
    comm = MPI.COMM_WORLD if comm is None else comm
    mods = _modules(modules)
    if not 0 <= root < comm.Get_size():
        raise ValueError(f"root: expected a rank in [0, {comm.Get_size()}), got {root!r}")
    _checked_once(mods, comm, again=True)
    _collective(mods, "flat_parameters",
                lambda buf: comm.Bcast([buf, _mpi_type(buf.dtype)], root=root))


def allreduce_gradients(modules, comm=None, average: bool = True) -> None:
    """Sum the modules' gradients across ranks, in place, and with
    ``average`` divide by the number of ranks: one allreduce of one buffer.
    With equal shares of a batch and mean-reduced losses, the average is
    the full batch's gradient; see share() for unequal ones."""
    comm = MPI.COMM_WORLD if comm is None else comm
    mods = _modules(modules)
    _checked_once(mods, comm)
    size = comm.Get_size()

    def run(buf):
        comm.Allreduce(MPI.IN_PLACE, [buf, _mpi_type(buf.dtype)], op=MPI.SUM)
        if average and size > 1:
            buf *= buf.dtype.type(1.0 / size)

    _collective(mods, "flat_gradients", run)


def share(n: int, comm=None, *, rank: int | None = None, size: int | None = None) -> slice:
    """This rank's share of n items: a contiguous slice, the first n % size
    ranks taking one item more (rank r of 3 over 10 items: 0:4, 4:7, 7:10).
    rank and size default to comm's (COMM_WORLD's).

    With unequal shares the mean of the ranks' mean losses weights the
    items of the larger shares less; for the exact full-batch mean use a
    'sum' loss, ``allreduce_gradients(average=False)`` and scale by 1/n
    (or choose n a multiple of the number of ranks)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected a number of items >= 0, got {n!r}")
    if rank is None or size is None:
        comm = MPI.COMM_WORLD if comm is None else comm
        rank = comm.Get_rank() if rank is None else rank
        size = comm.Get_size() if size is None else size
    if not 0 <= rank < size:
        raise ValueError(f"rank: expected a rank in [0, {size}), got {rank!r}")
    base, extra = divmod(int(n), size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def set_threads_per_rank(comm=None) -> int:
    """Share this node's cores between its ranks: crnn.set_num_threads(cores
    // ranks on this node, at least 1); returns that number."""
    comm = MPI.COMM_WORLD if comm is None else comm
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        n = max(1, _threads._available_cores() // local.Get_size())
    finally:
        local.Free()
    _threads.set_num_threads(n)
    return n


def abort_on_exception(comm=None) -> None:
    """Install a sys.excepthook that prints an uncaught exception with this
    rank's number and then aborts the whole job (``comm.Abort(1)``): the
    other ranks are ended instead of waiting forever in a collective.
    (``python -m mpi4py script.py`` does the same for a whole script.)"""
    comm = MPI.COMM_WORLD if comm is None else comm
    rank = comm.Get_rank()

    def hook(kind, value, tb):
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"crnn.distributed: uncaught exception on rank {rank}; "
                         f"aborting the job\n{text}")
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook
