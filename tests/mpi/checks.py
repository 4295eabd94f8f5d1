"""Run under ``mpiexec -n 2``, one scenario per run (tests/test_distributed.py
starts them): prints what the test then checks, per rank."""
import sys

import numpy as np
from mpi4py import MPI

import crnn
from crnn import distributed as dist

comm = MPI.COMM_WORLD
rank = comm.Get_rank()


said = []


def say(line):
    said.append(line)


class Counting:
    """COMM_WORLD, counting the collectives called through it."""

    def __init__(self, comm):
        self.comm, self.calls = comm, []

    def __getattr__(self, name):
        attr = getattr(self.comm, name)
        if name in ("Allreduce", "Bcast", "allgather"):
            self.calls.append(name)
        return attr


def collectives():
    gru = crnn.GRU(2, 3, seed=10 + rank)              # different weights per rank
    head = crnn.Linear(3, 1, seed=20 + rank)
    c = Counting(comm)
    dist.broadcast_parameters([gru, head], c)
    root = crnn.GRU(2, 3, seed=10), crnn.Linear(3, 1, seed=20)
    same = all(np.array_equal(m.flat_parameters, r.flat_parameters)
               for m, r in zip((gru, head), root))
    say(f"broadcast equal to rank 0's seeds: {same}; calls {c.calls}")
    for average in (True, False):
        gru.flat_gradients[...] = rank + 1             # 1 on rank 0, 2 on rank 1
        head.flat_gradients[...] = np.arange(head.flat_gradients.size) * (rank + 1)
        c.calls.clear()
        dist.allreduce_gradients([gru, head], c, average=average)
        say(f"average={average} gru {sorted(set(gru.flat_gradients))} "
              f"head {head.flat_gradients.tolist()} calls {c.calls}")
    gru.flat_gradients[...] = rank + 1
    c.calls.clear()
    dist.allreduce_gradients(gru, c)                   # one module: its own buffer
    say(f"single {sorted(set(gru.flat_gradients))} calls {c.calls}")


def layout():
    mods = ([crnn.GRU(2, 3), crnn.Linear(3, 1)] if rank == 0 else
            [crnn.GRU(2, 4), crnn.Linear(4, 1)])
    for call in (dist.broadcast_parameters, dist.allreduce_gradients):
        try:
            call(mods, comm)
            say(f"{call.__name__}: no error")
        except dist.LayoutMismatchError as e:
            say(f"{call.__name__}: {e}")
    mods = [crnn.GRU(2, 3, dtype=np.float32 if rank == 0 else np.float64)]
    try:
        dist.allreduce_gradients(mods, comm)
    except dist.LayoutMismatchError as e:
        say(f"dtype: {e}")


def abort():
    dist.abort_on_exception(comm)
    if rank == 1:
        raise ValueError("rank 1 failed on purpose")
    comm.Barrier()                                     # would wait forever
    say("passed the barrier")


{"collectives": collectives, "layout": layout, "abort": abort}[sys.argv[1]]()
gathered = comm.gather(said)                       # rank 0 prints every rank's lines
for r, lines in enumerate(gathered or ()):
    for line in lines:
        print(f"rank {r} {line}")
