"""Export a 2-layer bidirectional RNN for the C example (rnn_infer.c).

    python examples/c/export.py DIR

writes DIR/<key>.npy for every entry of the module's state_dict (torch's
names: weight_ih_l0, weight_hh_l0_reverse, ...; float32, C order), an input
DIR/x.npy (L, input_size) and crnn's own output DIR/expected.npy (L, 2H) for
the C program to compare with. Any crnn.RNN(tanh, 2 layers, bidirectional)
-- or one loaded from a torch checkpoint -- exports the same way.
"""
import os
import sys

import numpy as np

import crnn


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rnn = crnn.RNN(10, 20, num_layers=2, bidirectional=True, seed=0).eval()
    for name, value in rnn.state_dict().items():
        np.save(os.path.join(out_dir, f"{name}.npy"), np.ascontiguousarray(value, np.float32))
    x = np.random.default_rng(0).standard_normal((50, 10)).astype(np.float32)
    np.save(os.path.join(out_dir, "x.npy"), x)
    out, _ = rnn(x)                                  # unbatched: (L, 2H)
    np.save(os.path.join(out_dir, "expected.npy"), out)
    print(f"exported {len(rnn.state_dict())} weights, x {x.shape}, expected {out.shape} "
          f"to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/c/example")
