"""
Forecast a real time series with a GRU
======================================

The core of ``python -m crnn demo``. Run it with::

    python examples/forecast.py [--quick]

Monthly CO2 at Mauna Loa (bundled with crnn): a GRU reads the last 24
monthly changes and predicts the next; trained on all but the last five
years, judged one month ahead on them against "next month = this month".
"""
# sphinx_gallery_thumbnail_path = "demo.png"
import argparse
import importlib.util
import sys

import numpy as np

import crnn
from crnn.demo import load_co2

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="a few epochs (CI)")
# in a notebook, Jupyter's own arguments (-f ...) are not the script's: the defaults apply
epochs = 20 if ap.parse_args([] if "ipykernel" in sys.modules else None).quick else 300

_, co2 = load_co2()
d = np.diff(co2)                                   # predict changes, not levels
test = 60
mu, sd = d[:-test].mean(), d[:-test].std()
z = ((d - mu) / sd).astype(np.float32)
idx = np.arange(len(z) - 24)[:, None] + np.arange(24)
x, y = z[idx][..., None], z[24:]                   # (windows, 24, 1) -> next change
n_train = len(y) - test

gru = crnn.GRU(1, 32, batch_first=True, seed=0)
head = crnn.Linear(32, 1, seed=1)
opt = crnn.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=0.01)
mse = crnn.MSELoss()
for epoch in range(epochs):
    opt.zero_grad()
    out, _ = gru(x[:n_train])
    loss = mse(head(out[:, -1])[:, 0], y[:n_train])
    g_out = np.zeros_like(out)
    g_out[:, -1] = head.backward(mse.backward()[:, None])
    gru.backward(g_out)
    opt.step()
print(f"trained {epochs} epochs, loss {loss:.4f}")

gru.eval()
head.eval()
pred = head(gru(x[n_train:])[0][:, -1])[:, 0] * sd + mu
prev, truth = co2[-test - 1:-1], co2[-test:]
rmse = lambda f: np.sqrt(np.mean((f - truth) ** 2))  # noqa: E731
print(f"held-out {test} months, one month ahead: GRU RMSE {rmse(prev + pred):.3f} ppmv, "
      f"naive {rmse(prev):.3f} ppmv")

# %%
# The held-out months, observed and forecast one month ahead (with
# matplotlib installed; a script only prints the figures above):
if importlib.util.find_spec("matplotlib") is not None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(truth, "k", lw=1, label="observed")
    ax.plot(prev + pred, "C0", lw=2, alpha=0.7, label="GRU, one month ahead")
    ax.plot(prev, "C1--", lw=1, label="naive: last month")
    ax.set_xlabel("held-out month")
    ax.set_ylabel("CO2 (ppmv)")
    ax.legend()
    fig.tight_layout()
