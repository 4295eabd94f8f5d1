"""
Train data-parallel over MPI
============================

The demo's GRU forecaster, trained on several ranks at once::

    mpiexec -n 2 python examples/distributed_train.py [--epochs 60]
    python examples/distributed_train.py            # one rank: the full batch

Needs ``pip install ".[mpi]"``. Every rank builds the same model, takes
rank 0's weights, runs forward and backward on its own equal share of the
440 training windows and averages the gradients with the other ranks
before the same Adam step. With equal shares the mean of the ranks' mean
losses is the full batch's mean loss, so any number of ranks dividing 440
prints the losses of one rank to rounding (the sums over the batch are
split at other places).
"""
import argparse
import sys

import numpy as np

import crnn
from crnn import distributed as dist
from crnn.demo import HOLDOUT, WINDOW, Forecaster, load_co2, windows
from mpi4py import MPI

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=60)
ap.add_argument("--every", type=int, default=10, help="print the loss every N epochs")
# in a notebook, Jupyter's own arguments (-f ...) are not the script's: the defaults apply
args = ap.parse_args([] if "ipykernel" in sys.modules else None)

comm = MPI.COMM_WORLD
dist.abort_on_exception(comm)           # an error on one rank ends every rank
dist.set_threads_per_rank(comm)         # this node's cores shared by its ranks

_, co2 = load_co2()
d = np.diff(co2)
n_train = len(d) - HOLDOUT
z = ((d - d[:n_train].mean()) / d[:n_train].std()).astype(np.float32)
x, y = windows(z[:n_train], WINDOW)
x, y = x[-440:], y[-440:]               # 440 = 8 * 55: equal shares on 1, 2, 4, 8 ranks
if len(x) % comm.size:
    raise SystemExit(f"{comm.size} ranks: expected a number of ranks that divides "
                     f"{len(x)} (equal shares), got {comm.size}")
mine = dist.share(len(x), comm)

model = Forecaster(32, seed=comm.rank)  # different starts: the broadcast matters
dist.broadcast_parameters([model.gru, model.head], comm)
opt = crnn.optim.Adam(model.parameters(), lr=0.01)
mse = crnn.MSELoss()

for epoch in range(1, args.epochs + 1):
    opt.zero_grad()
    pred, out, _ = model.forward(x[mine])
    loss = comm.allreduce(mse(pred, y[mine])) / comm.size   # the full batch's mean
    g_out = np.zeros_like(out)
    g_out[:, -1] = model.head.backward(mse.backward()[:, None])
    model.gru.backward(g_out)
    dist.allreduce_gradients([model.gru, model.head], comm)
    opt.step()
    if comm.rank == 0 and (epoch % args.every == 0 or epoch == 1):
        print(f"epoch {epoch:4d} loss {loss:.6f}", flush=True)

if comm.rank == 0:
    print(f"trained on {comm.size} rank(s), {len(x) // comm.size} windows each")
