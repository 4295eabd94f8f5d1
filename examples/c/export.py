"""Export the C examples' models: a 2-layer bidirectional RNN (rnn_infer.c)
and an int8 LSTM with projections (qlstm_infer.c, in DIR/qlstm).

    python examples/c/export.py DIR

writes DIR/<key>.npy for every entry of the module's state_dict (torch's
names: weight_ih_l0, weight_hh_l0_reverse, ...; float32, C order), an input
DIR/x.npy (L, input_size) and crnn's own output DIR/expected.npy (L, 2H) for
the C program to compare with. Any crnn.RNN(tanh, 2 layers, bidirectional)
-- or one loaded from a torch checkpoint -- exports the same way.

DIR/qlstm/ holds crnn.quantize(LSTM(12, 40, proj_size=16), "int8")'s state
dict the same way (int8 weights, their float32 ``*_scale`` rows, float32
biases), an input and the quantized module's output.
"""
import os
import sys

import numpy as np

import crnn


def export(module, x, out_dir):
    """module's state dict as .npy files (their own dtypes), x, and
    module(x) as expected.npy."""
    os.makedirs(out_dir, exist_ok=True)
    for name, value in module.state_dict().items():
        np.save(os.path.join(out_dir, f"{name}.npy"), np.ascontiguousarray(value))
    np.save(os.path.join(out_dir, "x.npy"), x)
    out, _ = module(x)                               # unbatched: (L, D * P)
    np.save(os.path.join(out_dir, "expected.npy"), out)
    print(f"exported {len(module.state_dict())} arrays, x {x.shape}, expected {out.shape} "
          f"to {out_dir}")


def main(out_dir):
    rng = np.random.default_rng(0)
    rnn = crnn.RNN(10, 20, num_layers=2, bidirectional=True, seed=0).eval()
    export(rnn, rng.standard_normal((50, 10)).astype(np.float32), out_dir)
    lstm = crnn.quantize(crnn.LSTM(12, 40, proj_size=16, seed=0), "int8")
    export(lstm, rng.standard_normal((60, 12)).astype(np.float32),
           os.path.join(out_dir, "qlstm"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/c/example")
