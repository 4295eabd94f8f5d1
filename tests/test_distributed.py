"""crnn.distributed over real MPI: each test starts ``mpiexec -n 2`` (the
mpich wheel's) on tests/mpi/checks.py or the example, with a timeout."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MPIEXEC = Path(sys.executable).with_name("mpiexec")
TIMEOUT = 120   # seconds; each run takes about 1 s here


def run(*args, ranks=2, check=True):
    cmd = [str(MPIEXEC), "-n", str(ranks), sys.executable, *map(str, args)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
                         env=env)
    if check and res.returncode:
        raise AssertionError(f"{cmd} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


def lines(res, rank):
    return [ln[len(f"rank {rank} "):] for ln in res.stdout.splitlines()
            if ln.startswith(f"rank {rank} ")]


def test_mpiexec_is_the_extras():
    assert MPIEXEC.exists(), "the [mpi] extra (mpich) brings mpiexec beside python"


def test_broadcast_and_allreduce_one_collective_each():
    res = run("tests/mpi/checks.py", "collectives")
    for r in (0, 1):
        got = lines(res, r)
        assert got == [
            "broadcast equal to rank 0's seeds: True; calls ['allgather', 'Bcast']",
            # rank 0 gave 1 and i, rank 1 gave 2 and 2i
            "average=True gru [np.float32(1.5)] head [0.0, 1.5, 3.0, 4.5] calls ['Allreduce']",
            "average=False gru [np.float32(3.0)] head [0.0, 3.0, 6.0, 9.0] calls ['Allreduce']",
            # a new list of modules: its layout checked before its first collective
            "single [np.float32(1.5)] calls ['allgather', 'Allreduce']",
        ], res.stdout


def test_layout_mismatch_same_error_on_every_rank():
    res = run("tests/mpi/checks.py", "layout")
    r0, r1 = lines(res, 0), lines(res, 1)
    assert r0 == r1 and len(r0) == 3, res.stdout
    assert "weight_ih_l0 (12, 2) float32 where rank 0 has modules[0] (GRU) " \
           "weight_ih_l0 (9, 2) float32" in r0[0]
    assert r0[1].startswith("allreduce_gradients: modules: the ranks' parameter layouts")
    assert "(9, 2) float64 where rank 0 has" in r0[2]


def test_exception_on_one_rank_aborts_the_job():
    res = run("tests/mpi/checks.py", "abort", check=False)   # TIMEOUT bounds a hang
    assert res.returncode != 0
    assert "uncaught exception on rank 1" in res.stderr
    assert "ValueError: rank 1 failed on purpose" in res.stderr
    assert "passed the barrier" not in res.stdout


def losses(res):
    return [float(v) for v in re.findall(r"loss (\S+)", res.stdout)]


def test_example_two_ranks_print_one_ranks_losses():
    one = run("examples/distributed_train.py", "--epochs", "40", ranks=1)
    two = run("examples/distributed_train.py", "--epochs", "40", ranks=2)
    a, b = losses(one), losses(two)
    assert len(a) == len(b) == 5 and a[-1] < 0.5 * a[0]     # it trains
    # equal shares: the mean of the ranks' means is the full-batch mean; the
    # float32 sums over the batch are split at another place, so the last
    # bits differ and Adam carries that along: 1e-5 relative over 40 epochs
    # (seen: up to 1e-6)
    assert b == pytest.approx(a, rel=1e-5)
    assert "2 rank(s), 220 windows each" in two.stdout


@pytest.mark.parametrize("n, size", [(10, 3), (7, 7), (3, 5), (0, 2), (440, 8)])
def test_share_covers_every_item_once_remainder_first(n, size):
    from crnn.distributed import share
    parts = [share(n, rank=r, size=size) for r in range(size)]
    assert [i for p in parts for i in range(n)[p]] == list(range(n))
    counts = [p.stop - p.start for p in parts]
    assert counts == sorted(counts, reverse=True) and max(counts) - min(counts) <= 1


def test_share_refuses_bad_arguments():
    from crnn.distributed import share
    with pytest.raises(ValueError, match=r"n: expected a number of items >= 0, got -1"):
        share(-1, rank=0, size=2)
    with pytest.raises(ValueError, match=r"rank: expected a rank in \[0, 2\), got 2"):
        share(4, rank=2, size=2)


def test_modules_argument_checked():
    from crnn import distributed as dist
    import crnn
    with pytest.raises(TypeError, match="modules: expected crnn Modules, got list"):
        dist.allreduce_gradients([[crnn.GRU(1, 2)]])
    with pytest.raises(ValueError, match=r"modules: expected one dtype.*float32.*float64"):
        dist.allreduce_gradients([crnn.GRU(1, 2), crnn.Linear(2, 1, dtype="float64")])


def test_import_crnn_imports_neither_mpi4py_nor_dask():
    code = "import sys, crnn; print(sorted(m for m in sys.modules if m.split('.')[0] " \
           "in ('mpi4py', 'dask', 'distributed')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
