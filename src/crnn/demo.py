"""python -m crnn demo — fit a GRU forecaster to a real time series.

The series is the monthly mean of atmospheric CO2 at Mauna Loa, 1958-2001
(public domain; source in crnn/data/co2_monthly.csv). A GRU reads the last
24 monthly changes and predicts the next one; it is trained with Adam on all
but the last five years, then judged on those held-out years against the
naive forecast "next month equals this month": one month ahead (each
forecast sees the true history) and over the whole held-out span at once
(each forecast feeds on the previous ones). It prints the figures and
writes a plot of the series, the forecasts and the training loss.
"""
from __future__ import annotations

import copy
import os
import sys
import time
from importlib import resources

import numpy as np

import crnn

WINDOW, HOLDOUT = 24, 60


def load_co2():
    """(t in years, CO2 in ppmv), monthly, March 1958 - December 2001."""
    text = resources.files("crnn").joinpath("data/co2_monthly.csv").read_text()
    rows = [line.split(",") for line in text.splitlines()
            if line and not line.startswith("#")][1:]
    year, month, co2 = (np.array([float(r[i]) for r in rows]) for i in range(3))
    return year + (month - 0.5) / 12, co2


def windows(d, W):
    """All (W, 1) windows of the series d and the value after each."""
    idx = np.arange(len(d) - W)[:, None] + np.arange(W)
    return d[idx][..., None], d[W:]


class Forecaster:
    """GRU -> Linear on the last step: next change from the last W."""

    def __init__(self, hidden, seed):
        self.gru = crnn.GRU(1, hidden, batch_first=True, seed=seed)
        self.head = crnn.Linear(hidden, 1, seed=seed + 1)

    def parameters(self):
        return list(self.gru.parameters()) + list(self.head.parameters())

    def forward(self, x, state=None):
        out, state = self.gru(x, state)
        return self.head(out[:, -1])[:, 0], out, state

    def train_step(self, x, y, loss_fn, opt):
        opt.zero_grad()
        pred, out, _ = self.forward(x)
        loss = loss_fn(pred, y)
        g_last = self.head.backward(loss_fn.backward()[:, None])
        g_out = np.zeros_like(out)
        g_out[:, -1] = g_last
        self.gru.backward(g_out)
        opt.step()
        return loss

    def eval(self):
        self.gru.eval()
        self.head.eval()


def progress(iterable, total, desc, quiet=False):
    """A progress bar (tqdm, from the [demo] extra) on a terminal; ten plain
    lines without tqdm, or when stderr is a file or a pipe (a bar's updates
    would fill a log)."""
    if quiet:
        return iterable
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
            return tqdm(iterable, total=total, desc=desc, ncols=80, mininterval=0.5)
        except ImportError:
            pass

    def plain():
        for i, v in enumerate(iterable):
            if i % max(1, total // 10) == 0:
                print(f"{desc}: {i}/{total}", flush=True)
            yield v
    return plain()


def forecasts(model, z, co2, n_train, mu, sd):
    """The held-out span forecast two ways, in ppmv: one month ahead (each
    forecast sees the truth before it) and the whole span at once (each
    forecast fed back, the state carried along)."""
    xs, _ = windows(z, WINDOW)
    first = n_train - WINDOW                          # window ending at d[n_train-1]
    pred_z, _, _ = model.forward(xs[first:first + HOLDOUT])
    one_step = co2[n_train:-1] + pred_z * sd + mu
    pred0, _, state = model.forward(z[None, n_train - WINDOW:n_train, None])
    level, free, zt = co2[n_train], [], pred0[0]
    for _ in range(HOLDOUT):
        level = level + zt * sd + mu
        free.append(level)
        o, state = model.gru(np.array([[[zt]]], np.float32), state)
        zt = model.head(o[:, -1])[0, 0]
    return one_step, np.array(free)


def run(epochs=400, hidden=32, out="crnn-demo.png", seed=0, quiet=False):
    crnn.manual_seed(seed)
    t, co2 = load_co2()
    d = np.diff(co2)                                 # monthly changes
    n_train = len(d) - HOLDOUT
    mu, sd = d[:n_train].mean(), d[:n_train].std()
    z = ((d - mu) / sd).astype(np.float32)
    x, y = windows(z[:n_train], WINDOW)

    model = Forecaster(hidden, seed)
    opt = crnn.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = crnn.MSELoss()
    losses = []
    start = time.perf_counter()
    if epochs < 1:
        raise ValueError(f"epochs: expected at least 1, got {epochs}")
    bar = progress(range(epochs), epochs, "training GRU", quiet)
    for _ in bar:
        losses.append(model.train_step(x, y, loss_fn, opt))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    train_s = time.perf_counter() - start
    model.eval()
    one_step, free = forecasts(model, z, co2, n_train, mu, sd)
    truth = co2[n_train + 1:]                         # the held-out months
    prev = co2[n_train:-1]
    rmse = lambda a: float(np.sqrt(np.mean((a - truth) ** 2)))  # noqa: E731
    figures = dict(
        train_seconds=train_s, final_loss=losses[-1],
        one_step_rmse=rmse(one_step), naive_one_step_rmse=rmse(prev),
        span_rmse=rmse(free), naive_span_rmse=rmse(np.full(HOLDOUT, co2[n_train])))
    for dtype in ("int8", "bfloat16"):   # the same forecaster served quantized
        served = copy.copy(model)
        served.gru = crnn.quantize(model.gru, dtype)
        figures[f"one_step_rmse_{dtype}"] = rmse(forecasts(served, z, co2, n_train, mu, sd)[0])
    if not quiet:
        print(f"\nMauna Loa CO2, monthly 1958-2001; GRU({hidden}) trained {epochs} epochs "
              f"in {train_s:.1f} s (final loss {losses[-1]:.4f})")
        print(f"held-out last {HOLDOUT} months, RMSE in ppmv:")
        print(f"  one month ahead   GRU {figures['one_step_rmse']:.3f}   naive (last month) "
              f"{figures['naive_one_step_rmse']:.3f}")
        print(f"  whole span        GRU {figures['span_rmse']:.3f}   naive (last month) "
              f"{figures['naive_span_rmse']:.3f}")
        print("  one month ahead, the GRU served quantized (crnn.quantize): " + ", ".join(
            f"{d} {figures[f'one_step_rmse_{d}']:.3f} "
            f"({figures[f'one_step_rmse_{d}'] / figures['one_step_rmse'] - 1:+.2%})"
            for d in ("int8", "bfloat16")))
    if out:
        figures["plot"] = plot(out, t, co2, n_train, one_step, free, losses, figures)
        if not quiet and figures["plot"]:
            print(f"plot: {figures['plot']}")
    return figures


def _rmse_text(figures):
    """The held-out RMSE figures, as the plot shows them."""
    return ("held-out RMSE (ppmv)   GRU   naive\n"
            f"one month ahead      {figures['one_step_rmse']:5.2f}   "
            f"{figures['naive_one_step_rmse']:5.2f}\n"
            f"whole span           {figures['span_rmse']:5.2f}   "
            f"{figures['naive_span_rmse']:5.2f}")


def plot(path, t, co2, n_train, one_step, free, losses, figures):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ._extras import install_hint
        print(f"plot: skipped, matplotlib is not installed ({install_hint('demo')})")
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2),
                                  gridspec_kw=dict(width_ratios=[2.2, 1]))
    tt, split = t[n_train + 1:], t[n_train]
    truth = dict(color="k", lw=0.8, zorder=3)   # on top, thin: the forecasts show around it
    for a in (ax, inset := ax.inset_axes([0.58, 0.08, 0.4, 0.4])):
        a.plot(tt, one_step, color="C0", lw=2.8, alpha=0.75, label="GRU, one month ahead")
        a.plot(tt, free, color="C1", lw=1.6, ls="--", label="GRU, whole held-out span")
        a.axvline(split, color="0.3", lw=0.8, ls=":")
    ax.plot(t, co2, label="CO2, Mauna Loa (monthly), observed", **truth)
    inset.plot(t[n_train - 24:], co2[n_train - 24:], **truth)
    inset.tick_params(labelsize=7)
    inset.set_title("held-out years", fontsize=8)
    ax.text(split, 0.97, "train | held out ", transform=ax.get_xaxis_transform(),
            ha="center", va="top", fontsize=8, backgroundcolor="white")
    ax.text(0.02, 0.70, _rmse_text(figures), transform=ax.transAxes, fontsize=8,
            va="top", family="monospace",
            bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.7"))
    ax.set_xlabel("year")
    ax.set_ylabel("CO2 (ppmv)")
    ax.set_title("crnn: GRU forecast of the held-out years")
    ax.legend(loc="upper left", fontsize=8)
    ax2.plot(np.arange(1, len(losses) + 1), losses, color="C2")
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (MSE, standardised)")
    ax2.set_title("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.abspath(path)
