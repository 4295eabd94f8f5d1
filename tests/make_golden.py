"""Write tests/golden/*.npz: torch's results for a few configurations of
every layer kind, so that test_golden.py checks crnn against torch where
torch is not installed (the wheel tests). Run from the repository root with
torch installed:  python tests/make_golden.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.utils.rnn as T

HERE = os.path.join(os.path.dirname(__file__), "golden")

CASES = [
    dict(kind="RNN", nonlinearity="tanh", num_layers=2, bidirectional=True, batch_first=True),
    dict(kind="RNN", nonlinearity="relu", num_layers=2, bidirectional=False, packed=True),
    dict(kind="LSTM", num_layers=2, bidirectional=True, batch_first=False),
    dict(kind="LSTM", num_layers=2, bidirectional=True, proj_size=3, packed=True),
    dict(kind="GRU", num_layers=2, bidirectional=True, batch_first=True),
    dict(kind="GRU", num_layers=1, bidirectional=False, packed=True),
]


def make(i, case):
    rng = np.random.default_rng(100 + i)
    torch.manual_seed(i)
    I, H, L, N = 4, 5, 7, 3
    kw = {k: v for k, v in case.items() if k not in ("kind", "packed")}
    m = getattr(torch.nn, case["kind"])(I, H, **kw).double()
    D = 2 if case.get("bidirectional") else 1
    P = case.get("proj_size") or H
    bf = case.get("batch_first", False)
    x = torch.from_numpy(rng.standard_normal((N, L, I) if bf else (L, N, I))).requires_grad_()
    states = [torch.from_numpy(rng.standard_normal((D * case["num_layers"], N, F)))
              .requires_grad_() for F in ([P, H] if case["kind"] == "LSTM" else [H])]
    hx = tuple(states) if case["kind"] == "LSTM" else states[0]
    lengths = np.array([7, 2, 5])
    inp = T.pack_padded_sequence(x, torch.from_numpy(lengths), bf, enforce_sorted=False) \
        if case.get("packed") else x
    out, st = m(inp, hx)
    out_data = out.data if case.get("packed") else out
    finals = list(st) if case["kind"] == "LSTM" else [st]
    g_out = rng.standard_normal(tuple(out_data.shape))
    g_st = [rng.standard_normal(tuple(s.shape)) for s in finals]
    loss = (out_data * torch.from_numpy(g_out)).sum() + sum(
        (s * torch.from_numpy(g)).sum() for s, g in zip(finals, g_st))
    loss.backward()
    arrays = {"x": x.detach().numpy(), "lengths": lengths, "out": out_data.detach().numpy(),
              "grad_out": g_out, "grad_x": x.grad.numpy()}
    for j, s in enumerate(states):
        arrays[f"state0_{j}"] = s.detach().numpy()
        arrays[f"grad_state0_{j}"] = s.grad.numpy()
        arrays[f"state_n_{j}"] = finals[j].detach().numpy()
        arrays[f"grad_state_n_{j}"] = g_st[j]
    for k, v in m.state_dict().items():
        arrays[f"param:{k}"] = v.numpy()
        arrays[f"grad:{k}"] = dict(m.named_parameters())[k].grad.numpy()
    arrays["config"] = np.array(json.dumps(dict(case, input_size=I, hidden_size=H)))
    np.savez_compressed(os.path.join(HERE, f"case{i}_{case['kind'].lower()}.npz"), **arrays)


def make_checkpoint():
    """A torch checkpoint of a GRU and torch's output on an input, to load
    without torch."""
    torch.manual_seed(7)
    t = torch.nn.GRU(3, 4, 2, bidirectional=True).eval()
    torch.save(t.state_dict(), os.path.join(HERE, "gru_state_dict.pt"))
    x = np.random.default_rng(7).standard_normal((5, 2, 3)).astype(np.float32)
    with torch.no_grad():
        out = t(torch.from_numpy(x))[0].numpy()
    np.savez_compressed(os.path.join(HERE, "gru_state_dict_io.npz"), x=x, out=out)


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    for i, case in enumerate(CASES):
        make(i, case)
    make_checkpoint()
    print(f"wrote {len(CASES)} cases to {HERE} with torch {torch.__version__}")
