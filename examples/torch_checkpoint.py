"""
Serve weights trained in PyTorch
================================

torch is not needed to load them. Run it with::

    python examples/torch_checkpoint.py [CHECKPOINT.pt]

Without an argument, and if torch is installed, it first writes a
checkpoint of a 2-layer bidirectional LSTM the usual way,
``torch.save(model.state_dict(), path)``. crnn then reads it through its
restricted unpickler (tensors and plain containers only; nothing in the
file runs), builds the same layer and checks the outputs against torch's.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import crnn

ap = argparse.ArgumentParser()
ap.add_argument("checkpoint", nargs="?", help="a torch.save(model.state_dict()) file")
ap.add_argument("--quick", action="store_true", help="(no effect; it is quick)")
# in a notebook, Jupyter's own arguments (-f ...) are not the script's: the defaults apply
args = ap.parse_args([] if "ipykernel" in sys.modules else None)
if args.checkpoint:
    path, t = args.checkpoint, None
else:
    import torch
    t = torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True).eval()
    path = os.path.join(tempfile.mkdtemp(), "lstm.pt")
    torch.save(t.state_dict(), path)

state = crnn.load(path)                        # {name: ndarray}, no torch
hidden, inp = state["weight_hh_l0"].shape[1], state["weight_ih_l0"].shape[1]
layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in state)
m = crnn.LSTM(inp, hidden, layers, bidirectional="weight_hh_l0_reverse" in state).eval()
m.load_state_dict(state)
print(f"loaded {path}: {m}")

x = np.random.default_rng(0).standard_normal((50, 1, inp)).astype(np.float32)
out, (h, c) = m(x)
print(f"output {out.shape}, h_n {h.shape}, c_n {c.shape}")
if t is not None:
    import torch
    with torch.no_grad():
        ref = t(torch.from_numpy(x))[0].numpy()
    diff = np.abs(out - ref).max()
    print(f"max |crnn - torch| = {diff:.2e}")
    assert diff < 1e-5
