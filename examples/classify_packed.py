"""
Classify sequences of different lengths, packed
===============================================

No work is spent on padding. Run it with::

    python examples/classify_packed.py [--quick]

Each sequence is a noisy sine of one of three frequencies, 8 to 60 steps
long; an LSTM reads the packed batch and a linear layer classifies its
final hidden state (each sequence's own last step).
"""
import argparse
import importlib.util
import sys

import numpy as np

import crnn
from crnn.utils.rnn import pack_sequence

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true", help="a few epochs (CI)")
# in a notebook, Jupyter's own arguments (-f ...) are not the script's: the defaults apply
quick = ap.parse_args([] if "ipykernel" in sys.modules else None).quick
rng = np.random.default_rng(0)


def make(n):
    labels = rng.integers(0, 3, n)
    seqs = []
    for c in labels:
        length = int(rng.integers(8, 61))
        t = np.arange(length) + rng.uniform(0, 10)
        s = np.sin(t * (0.3, 0.7, 1.3)[c]) + 0.3 * rng.standard_normal(length)
        seqs.append(s[:, None].astype(np.float32))
    return pack_sequence(seqs, enforce_sorted=False), labels


train, y_train = make(256)
test, y_test = make(256)
lstm = crnn.LSTM(1, 24, seed=0)
head = crnn.Linear(24, 3, seed=1)
opt = crnn.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.02)
ce = crnn.CrossEntropyLoss()
losses = []
for epoch in range(10 if quick else 120):
    opt.zero_grad()
    _, (h, c) = lstm(train)                       # h: (1, N, 24), caller's order
    loss = ce(head(h[0]), y_train)
    losses.append(loss)
    g_h = head.backward(ce.backward())[None]
    lstm.backward(None, (g_h, None))               # the loss uses h_n only
    opt.step()
lstm.eval()
head.eval()
_, (h, _) = lstm(test)
accuracy = (head(h[0]).argmax(1) == y_test).mean()
lengths = test.lengths
print(f"loss {loss:.3f}; held-out accuracy {accuracy:.1%} on {len(y_test)} sequences of "
      f"{lengths.min()}-{lengths.max()} steps ({lengths.sum()} real steps, "
      f"{len(lengths) * lengths.max()} if padded)")

# %%
# The training loss (with matplotlib installed; a script only prints):
if importlib.util.find_spec("matplotlib") is not None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    fig.tight_layout()
