"""What crnn and torch keep for backward, and what crnn's inference works in.

For every training case of ``bench.py``'s grid: the bytes a training forward
holds until backward (crnn: the reserves, intermediate layer outputs and
dropout masks; torch 2.13 CPU: every tensor autograd saves, counted once per
storage through ``torch.autograd.graph.saved_tensors_hooks``). The input and
the parameters are left out of both: torch saves a reference to the caller's
tensor, crnn a copy of the input (listed on its own). For every inference
case: crnn's largest working buffer of a layer call, next to the output.

    python benchmarks/memory.py
"""
from __future__ import annotations

import numpy as np

import crnn
from crnn import _kernels
from crnn.utils.rnn import pack_padded_sequence

from bench import grid, inputs, torch_twin  # benchmarks/ is the script's own folder

MB = 2 ** 20


def crnn_training_bytes(m, x):
    """(held for backward beyond the input, the input copy) after a forward."""
    m.train()
    m(x)
    held, seen = 0, set()
    for kept in m._saved.layers:
        mask = kept.mask
        for xin, reserve in zip(kept.inputs, kept.reserves):
            if reserve is not None and id(reserve) not in seen:
                seen.add(id(reserve))
                held += reserve.nbytes
            if id(xin) not in seen:
                seen.add(id(xin))
                held += xin.nbytes
        if mask is not None:
            held += mask.nbytes
    data = x.data if hasattr(x, "batch_sizes") else x
    return held - data.nbytes, data.nbytes


def torch_training_bytes(case, m, x):
    import torch
    t, xt = torch_twin(case, m, x)
    skip = {p.untyped_storage().data_ptr() for p in t.parameters()}
    skip.add((xt.data if case.lengths is not None else xt).untyped_storage().data_ptr())
    storages = {}

    def pack(tensor):
        s = tensor.untyped_storage()
        if s.data_ptr() not in skip:
            storages[s.data_ptr()] = s.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out, _ = t(xt)
    del out
    return sum(storages.values())


def inference_workspace_bytes(case):
    """crnn's largest workspace of one layer-direction call, in bytes."""
    cell = {"RNN": _kernels.RNN_TANH, "LSTM": _kernels.LSTM, "GRU": _kernels.GRU}[case.kind]
    D = 2 if case.bidirectional else 1
    bs = None
    if case.lengths is not None:
        bs = np.array([sum(1 for n in case.lengths if n > t) for t in range(case.L)], np.int64)
    sizes = [_kernels.sizes(cell, case.I if k == 0 else D * case.H, case.H, 0, case.L,
                            case.N, bs) for k in range(case.layers)]
    # an eval call over several steps reads the weights its module packed
    # once (kept with the module, like the weights): no room for panels
    return 4 * max(z.inference - (z.panels if case.L >= 2 else 0) for z in sizes)


def main():
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rng = np.random.default_rng(0)
    print("training: held for backward (MB; input excluded)")
    print(f"{'case':44} {'crnn':>8} {'torch':>8} {'ratio':>8} {'input copy':>11}")
    for case in grid(["RNN", "LSTM", "GRU"], False):
        if not case.training:
            continue
        m = getattr(crnn, case.kind)(case.I, case.H, case.layers,
                                     bidirectional=case.bidirectional, seed=0)
        x = inputs(case, rng)
        xin = pack_padded_sequence(x, case.lengths) if case.lengths is not None else x
        held, copy = crnn_training_bytes(m, xin)
        tb = torch_training_bytes(case, m, x) if have_torch else None
        ratio = f"{held / tb:8.2f}" if tb else f"{'-':>8}"
        tcol = f"{tb / MB:8.1f}" if tb is not None else f"{'-':>8}"
        print(f"{case.name:44} {held / MB:8.1f} {tcol} {ratio} {copy / MB:11.1f}")
    print("\ninference: crnn's largest layer workspace next to the output (MB)")
    print(f"{'case':44} {'work':>8} {'output':>8}")
    for case in grid(["RNN", "LSTM", "GRU"], False):
        if case.training:
            continue
        D = 2 if case.bidirectional else 1
        rows = sum(case.lengths) if case.lengths is not None else case.N * case.L
        print(f"{case.name:44} {inference_workspace_bytes(case) / MB:8.2f} "
              f"{4 * rows * D * case.H / MB:8.2f}")


if __name__ == "__main__":
    main()
