"""Packed batches cost what their real steps cost.

For each layer kind, a batch of N sequences padded to L steps is packed with
lengths whose sum is a fraction of N*L (one sequence keeps the full length);
the script prints the median time of an inference forward and of a training
forward + backward, relative to the full batch. Cost proportional to the
sum of lengths means the two ratio columns follow the fraction.

    python benchmarks/packed_cost.py [--quick] [--torch]

--torch adds torch's packed forward for comparison (if torch is installed).
"""
import argparse

import numpy as np

import crnn
from crnn.utils.rnn import pack_padded_sequence

from bench import median_time  # benchmarks/ is the script's own folder


def lengths_for(fraction, N, L, rng):
    """N lengths in 1..L, one of them L, summing to about fraction*N*L."""
    target = max(N + L - 1, int(round(fraction * N * L)))
    lengths = np.ones(N, np.int64)
    lengths[0] = L
    extra = target - lengths.sum()
    while extra > 0:
        n = int(rng.integers(1, N)) if N > 1 else 0
        room = L - lengths[n]
        add = min(room, extra, int(rng.integers(1, L + 1)))
        lengths[n] += add
        extra -= add
    return lengths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (CI)")
    ap.add_argument("--torch", action="store_true", help="also time torch's packed forward")
    a = ap.parse_args()
    N, L, I, H, repeat = (8, 20, 8, 16, 3) if a.quick else (64, 200, 64, 256, 7)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((L, N, I)).astype(np.float32)
    fractions = (1.0, 0.5, 0.25, 0.1)
    print(f"N={N}, L={L}, input {I}, hidden {H}, float32, median of {repeat}")
    print(f"{'kind':5} {'sum/N*L':>8} {'forward ms':>11} {'ratio':>6} "
          f"{'fwd+bwd ms':>11} {'ratio':>6}" + (f" {'torch fwd ms':>13}" if a.torch else ""))
    for kind in ("RNN", "LSTM", "GRU"):
        m = getattr(crnn, kind)(I, H, seed=0)
        base = None
        for fr in fractions:
            lengths = lengths_for(fr, N, L, rng)
            p = pack_padded_sequence(x, lengths, enforce_sorted=False)
            m.eval()
            t_inf = median_time(lambda: m(p), 0.0, repeat, repeat)
            m.train()
            g = np.ones((p.data.shape[0], H), np.float32)

            def fwd_bwd():
                m(p)
                m.backward(g)
            t_trn = median_time(fwd_bwd, 0.0, repeat, repeat)
            base = base or (t_inf, t_trn)
            row = (f"{kind:5} {lengths.sum() / (N * L):8.2f} {t_inf * 1e3:11.2f} "
                   f"{t_inf / base[0]:6.2f} {t_trn * 1e3:11.2f} {t_trn / base[1]:6.2f}")
            if a.torch:
                import torch
                t = getattr(torch.nn, kind)(I, H)
                pt = torch.nn.utils.rnn.pack_padded_sequence(
                    torch.from_numpy(x), torch.from_numpy(lengths), enforce_sorted=False)
                with torch.no_grad():
                    row += f" {median_time(lambda: t(pt), 0.0, repeat, repeat) * 1e3:13.2f}"
            print(row)


if __name__ == "__main__":
    main()
