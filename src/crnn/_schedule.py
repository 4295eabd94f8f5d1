"""Which pieces of a layer's work run on which threads: one cost, one policy.

A layer's work is one piece per direction; with threads to spare, a
unidirectional padded batch in inference is also cut into batch slices (in
the deterministic mode a row's outputs do not depend on its batch), and a
layer that stays one piece (batch 1, a packed batch, training) gets a
helper instead: a ``_kernels.Team``, whose thread takes half of every
product of the call (the core splits each product by whole panels of
output columns or by output rows, never inside a sum: in the deterministic
mode the same bits on one thread or two; BLAS's calls are split the same
way). Training never slices the batch, so that its weight gradients are the
same sums on any thread count.
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Callable, NamedTuple

from . import _kernels
from ._threads import blas_held, get_num_threads, run_all

# work (flops) of one piece from which handing it to another thread pays
# (the hand-over costs ~0.05 ms)
PARALLEL_FLOPS = 4e6
# a layer gets a helper (a Team) only where a step's work, measured in
# float32 multiply-adds' time (step_cost), is at least TEAM_MIN: below it
# the two hand-overs of every step cost what sharing saves, and a second
# thread made the call slower. Measured on 2 cores, quiet (load < 1; Zen 4,
# its AVX-512 / forced AVX2 paths; batch 1, 100 steps, best of 3 medians),
# time on 2 threads with a helper over 1 thread: Elman H=512 float32
# (cost 308K) 0.56 / 0.56, int8 GRU H=512 (272K) 0.73 / 0.63, int8 Elman
# H=1024 (270K) 0.53 / 0.54, GRU H=256 float32 (266K) 0.64 / 0.66,
# bfloat16 LSTM H=256 (205K) 0.70 / 0.68, bfloat16 GRU H=256 (154K) 0.76 /
# 0.89; but int8 LSTM H=256 (137K) 0.82 / 1.21 and int8 GRU H=256 (103K)
# 1.08 / 0.86. (With the other core busy, any helper cost about 10%; an
# AVX2-only EPYC with half the L2 measured int8 GRU H=512 1.08x slower with
# a helper under an earlier rule: not remeasured here.)
TEAM_MIN = 200_000
# the gate arithmetic after the product, per gate output (a sigmoid or
# tanh and the state update), in float32 multiply-adds' time: the same
# weights make a longer step for LSTM (4 gates a unit) than for Elman (1)
GATE_COST = 90


class LayerShape(NamedTuple):
    """What the policy needs to know of one layer of one call."""
    directions: int
    steps: int          # L
    batch: int          # N
    rows: int           # L * N padded, the sum of the lengths packed
    packed: bool
    gate_size: int      # G * hidden_size
    input_size: int
    out_size: int       # proj_size or hidden_size
    training: bool
    qtype: int = 0      # quantized weights (crnn.quantize): _kernels.QINT8, QBF16


# cost of a multiply-add relative to float32's, by weight type, as far as
# handing work to another thread goes: int8 products sum four per
# instruction and read a quarter of the bytes; the bfloat16 ones widen in
# registers and sum in float32 (used for the work of a piece, flops)
COST = {0: 1.0, _kernels.QINT8: 0.125, _kernels.QBF16: 1.0}
# the time of a multiply-add in a batch-1 step, relative to float32's, by
# weight type (step_cost): fitted to the 1-thread times of Elman, LSTM and
# GRU at H = 256 to 1024 (a step reads every weight once: int8 and
# bfloat16 read fewer bytes, but quantizing the input and widening cost)
STEP_COST = {0: 1.0, _kernels.QINT8: 0.17, _kernels.QBF16: 0.43}



class LayerPlan(NamedTuple):
    """pieces: (direction, batch slice or None for the whole batch);
    parallel: run the pieces side by side; team: give the (single) piece a
    helper; blas: the pieces may call SciPy's OpenBLAS (the default mode),
    held to one thread while they run."""
    pieces: tuple
    parallel: bool
    team: bool
    blas: bool = False
    here: bool = False   # one piece, run at once on the calling thread (a frame's)


# the plan of a call of one row in one direction (a frame of one
# sequence), whatever the threads: nothing to slice, no second step for a
# helper to share, no product that BLAS takes (it takes none below 16 rows)
ALONE = LayerPlan(((0, None),), False, False, False, True)


def flops(s: LayerShape) -> float:
    """One direction's work over the whole batch (training: forward and
    backward, ~3x the forward)."""
    f = 2.0 * s.rows * s.gate_size * (s.input_size + s.out_size) * COST[s.qtype]
    return f * (3 if s.training else 1)


def step_cost(s: LayerShape) -> float:
    """One step's work in float32 multiply-adds' time: the recurrent
    product and the gate arithmetic (what a helper would share)."""
    return s.batch * s.gate_size * (s.out_size * STEP_COST[s.qtype] + GATE_COST)


def _slices(n: int, parts: int):
    cuts = [n * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def plan(s: LayerShape, threads: int | None = None) -> LayerPlan:
    """The plan of one layer on ``threads`` threads (crnn's setting by
    default), in the mode in force (crnn.use_deterministic_algorithms)."""
    return _plan(s, get_num_threads() if threads is None else threads,
                 _kernels.blas_rows())


@lru_cache(maxsize=1024)   # a stream asks the same question at every call
def _plan(s: LayerShape, threads: int, blas_rows: int = 0) -> LayerPlan:
    if s.rows == 1 and s.directions == 1:
        return ALONE
    work = flops(s)
    n_slices = threads // s.directions
    if s.training or s.packed or n_slices < 2 or s.batch < 2 * n_slices or \
            work / n_slices < PARALLEL_FLOPS:
        slices = [None]
    else:
        slices = _slices(s.batch, n_slices)
    pieces = tuple((d, sl) for d in range(s.directions) for sl in slices)
    parallel = len(pieces) > 1 and work / len(slices) >= PARALLEL_FLOPS
    team = (len(pieces) == 1 and threads >= 2 and s.steps >= 2 and work >= PARALLEL_FLOPS
            and step_cost(s) >= TEAM_MIN)
    blas = 0 < blas_rows <= s.rows and s.qtype == 0
    return LayerPlan(pieces, parallel, team, blas, len(pieces) == 1 and not (team or blas))


def run(p: LayerPlan, piece: Callable) -> None:
    """Run ``piece(j, team)`` for every piece j of the plan, side by side if
    the plan says so; a plan with a team runs its one piece with the
    helper alongside, let go however the piece ends (the core lets it go
    when a call returns, but a piece may fail before it gets there). A plan
    that may call BLAS runs with SciPy's OpenBLAS held to one thread."""
    if p.blas:
        with blas_held():
            _run(p, piece)
    else:
        _run(p, piece)


def _run(p: LayerPlan, piece: Callable) -> None:
    if not p.team and len(p.pieces) == 1:
        piece(0, None)
        return
    if not p.team:
        run_all([partial(piece, j, None) for j in range(len(p.pieces))], p.parallel)
        return
    team = _kernels.Team()

    def lead():
        try:
            piece(0, team)
        finally:
            team.end()
    run_all([lead, team.help], True)
