"""crnn against results torch computed once (tests/golden, written by
make_golden.py): outputs, final states and every gradient, without torch
installed — the test the wheels run."""
import glob
import json
import os

import numpy as np
import pytest

import crnn
from crnn.utils.rnn import pack_padded_sequence

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
FILES = sorted(glob.glob(os.path.join(GOLDEN, "case*.npz")))


def test_golden_cases_are_there():
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_golden(path):
    g = np.load(path)
    cfg = json.loads(str(g["config"]))
    kind, packed = cfg.pop("kind"), cfg.pop("packed", False)
    m = getattr(crnn, kind)(cfg.pop("input_size"), cfg.pop("hidden_size"),
                            dtype=np.float64, **cfg)
    m.load_state_dict({k[6:]: g[k] for k in g.files if k.startswith("param:")})
    lstm = kind == "LSTM"
    n_states = 2 if lstm else 1
    hx = [g[f"state0_{j}"] for j in range(n_states)]
    x = g["x"]
    inp = pack_padded_sequence(x, g["lengths"], m.batch_first, enforce_sorted=False) \
        if packed else x
    out, st = m(inp, tuple(hx) if lstm else hx[0])
    np.testing.assert_allclose(out.data if packed else out, g["out"], rtol=1e-10, atol=1e-10)
    finals = list(st) if lstm else [st]
    for j in range(n_states):
        np.testing.assert_allclose(finals[j], g[f"state_n_{j}"], rtol=1e-10, atol=1e-10)
    g_out = out._replace(data=g["grad_out"]) if packed else g["grad_out"]
    g_st = [g[f"grad_state_n_{j}"] for j in range(n_states)]
    gx, ghx = m.backward(g_out, tuple(g_st) if lstm else g_st[0])
    if packed:
        gx = crnn.utils.rnn.pad_packed_sequence(gx, m.batch_first, total_length=x.shape[
            1 if m.batch_first else 0])[0]
    np.testing.assert_allclose(gx, g["grad_x"], rtol=1e-10, atol=1e-10)
    for j, a in enumerate(list(ghx) if lstm else [ghx]):
        np.testing.assert_allclose(a, g[f"grad_state0_{j}"], rtol=1e-10, atol=1e-10)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, g[f"grad:{name}"], rtol=1e-10, atol=1e-10,
                                   err_msg=name)


def test_torch_checkpoint_without_torch():
    """A checkpoint written by torch.save(model.state_dict()) serves the same
    outputs, read by crnn's own unpickler (no torch needed)."""
    m = crnn.GRU(3, 4, 2, bidirectional=True).eval()
    m.load_state_dict(crnn.load(os.path.join(GOLDEN, "gru_state_dict.pt")))
    io = np.load(os.path.join(GOLDEN, "gru_state_dict_io.npz"))
    np.testing.assert_allclose(m(io["x"])[0], io["out"], rtol=1e-5, atol=1e-6)
