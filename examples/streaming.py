"""
Streaming inference
===================

One frame at a time at batch 1, the state carried from call to call. Run it
with::

    python examples/streaming.py [--quick]

A GRU run over a sequence in chunks (passing h_n along) gives exactly the
outputs of one call over the whole sequence in the deterministic mode
(``crnn.deterministic()``: every product on crnn's own kernels; by default
the products over many rows go to BLAS, whose sums change order with the
number of rows); a GRUCell fed one frame per call gives them too, with a
small per-call cost; ``crnn.freeze(cell)``, which packs the weights once and
carries the state inside it, gives them with less (both measured here, and
against torch's GRUCell if torch is
installed).
"""
import argparse
import importlib.util
import sys
import time

import numpy as np

import crnn

ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
# in a notebook, Jupyter's own arguments (-f ...) are not the script's: the defaults apply
frames = 200 if ap.parse_args([] if "ipykernel" in sys.modules else None).quick else 5000
H, I = 64, 16
rng = np.random.default_rng(0)
x = rng.standard_normal((frames, 1, I)).astype(np.float32)

gru = crnn.GRU(I, H, seed=0).eval()
with crnn.deterministic():                       # the same bits however cut
    whole, _ = gru(x)
    h, chunks = None, []
    for a in range(0, frames, 37):               # chunks of 37 frames
        out, h = gru(x[a:a + 37], h)
        chunks.append(out)
assert np.array_equal(np.concatenate(chunks), whole)

cell = crnn.GRUCell(I, H).eval()
cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items()})  # drop "_l0"
h = None
start = time.perf_counter()
for t in range(frames):
    h = cell(x[t], h)                            # (I,) -> (H,)
per_call = (time.perf_counter() - start) / frames
assert h is not None and np.allclose(h, whole[-1, 0], atol=1e-6)
print(f"chunks == one call; GRUCell({I}, {H}) at batch 1: {per_call * 1e6:.1f} us per frame")

served = crnn.freeze(cell)                       # weights packed once, the state inside
start = time.perf_counter()
for t in range(frames):
    h = served(x[t])                             # the same array each call, overwritten
per_call = (time.perf_counter() - start) / frames
assert np.array_equal(h[0], whole[-1, 0])       # the layer's bits
print(f"crnn.freeze(GRUCell({I}, {H})): {per_call * 1e6:.1f} us per frame")

if importlib.util.find_spec("torch") is not None:
    import torch

    tc = torch.nn.GRUCell(I, H)
    tc.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    xt, ht = torch.from_numpy(x[:, 0]), None
    with torch.inference_mode():
        start = time.perf_counter()
        for t in range(frames):
            ht = tc(xt[t], ht)
        t_call = (time.perf_counter() - start) / frames
    print(f"torch.nn.GRUCell: {t_call * 1e6:.1f} us per frame")
