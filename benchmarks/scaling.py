"""Scale-out: data-parallel training over MPI and bulk inference on Dask.

    python benchmarks/scaling.py [--quick] [--json out.json]

Needs ``pip install ".[mpi,dask]"``. Prints four tables:

1. per training step, compute (forward + backward on a rank's share of
   the batch) and allreduce time, at 1 rank (1 and 2 threads) and 2 ranks
   (1 thread each; ``mpiexec -n 2``), for the demo's GRU forecaster and an
   LSTM with H = 512; the global batch is the same on every row;
2. allreduce time over message sizes on 2 ranks, fitted to
   t = latency + size / bandwidth;
3. the projected efficiency of data-parallel training on 8 and 64 nodes
   with a ring allreduce, from that fit and a stated network (below);
4. Dask: sequences per second through ``crnn.dask.predict``, in-process
   and on a LocalCluster of 1 and 2 worker processes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)
# the stated networks: link rate and one hop's latency (TCP over 10 Gbit/s
# Ethernet; RDMA over a 100 Gbit/s fabric), added to the fitted latency
NETWORKS = {"10 Gbit/s": (10e9 / 8, 20e-6), "100 Gbit/s": (100e9 / 8, 3e-6)}
NODES = (8, 64)


# -- inside mpiexec -------------------------------------------------------------
def model(name, quick):
    """(modules, step(x_share) -> None, global batch x) for a model name."""
    import crnn
    from crnn.demo import Forecaster
    if name == "demo":
        f = Forecaster(8 if quick else 32, seed=0)
        n, L = (32, 12) if quick else (440, 24)                # the demo's 440 windows
        x = np.random.default_rng(0).standard_normal((n, L, 1)).astype(np.float32)
        mse = crnn.MSELoss()

        def step(xs):
            pred, out, _ = f.forward(xs)
            mse(pred, xs[:, -1, 0])
            g = np.zeros_like(out)
            g[:, -1] = f.head.backward(mse.backward()[:, None])
            f.gru.backward(g)
        return [f.gru, f.head], step, x
    H, I, n, L = (32, 16, 8, 10) if quick else (512, 128, 64, 50)
    lstm = crnn.LSTM(I, H, seed=0)
    x = np.random.default_rng(0).standard_normal((n, L, I)).astype(np.float32)

    def step(xs):
        out, _ = lstm(xs.transpose(1, 0, 2))
        lstm.backward(np.ones_like(out))
    return [lstm], step, x


def step_worker(name, threads, steps, quick):
    """Rank 0 prints {compute, allreduce} medians in seconds (compute: the
    slowest rank's)."""
    from mpi4py import MPI
    import crnn
    from crnn import distributed as dist
    comm = MPI.COMM_WORLD
    crnn.set_num_threads(threads)
    mods, step, x = model(name, quick)
    xs = np.ascontiguousarray(x[dist.share(len(x), comm)])
    dist.broadcast_parameters(mods, comm)
    compute, reduce = [], []
    for i in range(steps + 1):                 # the first is a warm-up
        t0 = time.perf_counter()
        step(xs)
        t1 = time.perf_counter()
        comm.Barrier()                          # waiting for the slower rank: not allreduce
        t2 = time.perf_counter()
        dist.allreduce_gradients(mods, comm)
        t3 = time.perf_counter()
        if i:
            compute.append(comm.allreduce(t1 - t0, op=MPI.MAX))
            reduce.append(t3 - t2)
    size = sum(m.flat_gradients.nbytes for m in mods)
    if comm.rank == 0:
        print(json.dumps(dict(compute=statistics.median(compute), bytes=size,
                              allreduce=statistics.median(reduce))))


def sweep_worker(quick):
    """Rank 0 prints [(bytes, median seconds)] of in-place float32 Allreduce."""
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rows = []
    for p in range(10, 21 if quick else 27, 2):     # 1 KiB .. 16 or 64 MiB
        buf = np.ones((1 << p) // 4, np.float32)
        reps = 5 if quick else max(5, min(200, (1 << 24) >> p))
        times = []
        for _ in range(reps + 1):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        rows.append((buf.nbytes, statistics.median(times[1:])))
    if comm.rank == 0:
        print(json.dumps(rows))


# -- the driver -------------------------------------------------------------------
def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def mpirun(ranks, *args, timeout=600):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    cmd = [mpiexec, "-n", str(ranks), sys.executable, HERE, "--worker", *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def step_table(quick):
    steps = 3 if quick else 10
    rows = []
    print("\n1. per training step (ms); the global batch is the same on every row")
    print(f"{'model':8} {'ranks x threads':>15} {'grad MB':>8} {'compute':>8} "
          f"{'allreduce':>9} {'step':>7} {'speed-up':>8}")
    for name in ("demo", "lstm512"):
        base = None
        for ranks, threads in ((1, 1), (1, 2), (2, 1)):
            r = mpirun(ranks, "step", name, threads, steps, int(quick))
            r.update(model=name, ranks=ranks, threads=threads)
            total = r["compute"] + r["allreduce"]
            base = base or total
            print(f"{name:8} {ranks:>11} x {threads} {r['bytes'] / 1e6:8.3f} "
                  f"{r['compute'] * 1e3:8.2f} {r['allreduce'] * 1e3:9.3f} "
                  f"{total * 1e3:7.2f} {base / total:8.2f}")
            rows.append(r)
    return rows


def fit(sweep):
    """Least squares of t = a + n / B, weighted by 1/t (relative errors)."""
    n, t = np.array(sweep).T
    w = 1 / t
    (a, inv_b), *_ = np.linalg.lstsq(np.c_[np.ones_like(n), n] * w[:, None], t * w, rcond=None)
    return a, 1 / inv_b


def sweep_table(quick):
    sweep = mpirun(2, "sweep", int(quick))
    a, B = fit(sweep)
    print("\n2. allreduce on 2 ranks (one node, shared memory), float32, in place")
    print(f"{'bytes':>10} {'measured us':>12} {'fit us':>8}")
    for n, t in sweep:
        print(f"{n:>10} {t * 1e6:12.1f} {(a + n / B) * 1e6:8.1f}")
    print(f"fit: latency {a * 1e6:.1f} us, bandwidth {B / 1e9:.2f} GB/s")
    return dict(sweep=sweep, latency=a, bandwidth=B)


def ring(p, nbytes, a, B, net):
    """Ring allreduce over p nodes: 2(p-1) hops each of latency a + the
    network's; each node sends and receives 2(p-1)/p of the message on the
    link and reduces it at the fitted local rate."""
    link, hop = net
    return 2 * (p - 1) * (a + hop) + 2 * (p - 1) / p * nbytes * (1 / link + 1 / B)


def projection_table(steps, fitted):
    print("\n3. projected data-parallel efficiency: each node keeps its batch and its "
          "faster 1-rank\n   step above (weak scaling), the allreduce after backward "
          "(no overlap)")
    print(f"{'model':8} {'network':>10} " + " ".join(f"{f'{p} nodes':>9}" for p in NODES))
    rows = []
    for name in dict.fromkeys(r["model"] for r in steps):
        node = min((r for r in steps if r["model"] == name and r["ranks"] == 1),
                   key=lambda r: r["compute"])
        for label, net in NETWORKS.items():
            eff = [node["compute"] / (node["compute"] + ring(
                       p, node["bytes"], fitted["latency"], fitted["bandwidth"], net))
                   for p in NODES]
            print(f"{name:8} {label:>10} " + " ".join(f"{e:9.1%}" for e in eff))
            rows.append(dict(model=name, network=label, efficiency=eff))
    return rows


def dask_table(quick):
    import dask.array as da
    import distributed
    import crnn
    import crnn.dask
    N, L, F, H, chunk = (512, 10, 4, 16, 128) if quick else (8192, 100, 8, 128, 512)
    m = crnn.LSTM(F, H, seed=0).eval()
    x = da.random.default_rng(0).standard_normal((L, N, F), chunks=(L, chunk, F),
                                                 dtype=np.float32)
    job = crnn.dask.predict(m, x)[-1]           # the last step's outputs come back

    def rate(f, repeat=3):
        """Sequences per second: the best of repeat runs after a warm-up (the
        machine is shared: the best is the least disturbed)."""
        f()
        best = min(timed(f) for _ in range(repeat))
        return N / best

    print(f"\n4. Dask: LSTM({F}, {H}) over {N} sequences of {L} steps, chunks of {chunk} "
          f"(Dask's input drawn inside the tasks; the one call's drawn before)")
    crnn.set_num_threads(2)
    xs = x.compute()
    rows = [("one call, no Dask", 0, 2, rate(lambda: m(xs)))]
    crnn.set_num_threads(1)
    for workers in (1, 2):                      # threads of one process
        rows.append(("threaded scheduler", workers, 1,
                     rate(lambda: job.compute(scheduler="threads", num_workers=workers))))
    crnn.set_num_threads(2)
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            client.run(crnn.set_num_threads, 2 // workers)   # 2 cores in all
            rows.append(("LocalCluster", workers, 2 // workers, rate(job.compute)))
    print(f"{'where':20} {'workers':>7} {'crnn threads':>12} {'sequences/s':>12}")
    for where, w, t, r in rows:
        print(f"{where:20} {w:>7} {t:>12} {r:12.0f}")
    return [dict(where=w, workers=n, threads=t, rate=r) for w, n, t, r in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to prove it runs")
    ap.add_argument("--json", help="write the records here")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        kind, *rest = a.worker
        if kind == "step":
            step_worker(rest[0], int(rest[1]), int(rest[2]), bool(int(rest[3])))
        else:
            sweep_worker(bool(int(rest[0])))
        return
    print("load average before: %.2f %.2f %.2f (the machine may be shared)" % os.getloadavg())
    steps = step_table(a.quick)
    fitted = sweep_table(a.quick)
    out = dict(steps=steps, allreduce=fitted, projection=projection_table(steps, fitted),
               dask=dask_table(a.quick))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
