"""crnn.freeze against torch: a frozen module stepped a frame at a time,
its state carried inside it, gives torch's module stepped with its state
passed back (float32 and float64)."""
import numpy as np
import pytest
import torch

import crnn
from conftest import assert_close
from torch_oracle import torch_twin

CASES = [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", dict(nonlinearity="relu")),
         ("LSTM", dict(num_layers=2, proj_size=3)), ("GRU", dict(bidirectional=True)),
         ("RNN", dict(num_layers=2, batch_first=True))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,kw", CASES)
def test_frozen_frames_match_torch(kind, kw, dtype):
    m = getattr(crnn, kind)(5, 8, dtype=dtype, seed=1, **kw).eval()
    t = torch_twin(m).eval()
    cell = kind.endswith("Cell")
    f = crnn.freeze(m)
    xs = np.random.default_rng(0).standard_normal((6, 2, 5)).astype(dtype)
    s = None
    for x in xs:
        xf = x if cell else x[None] if not m.batch_first else x[:, None]
        with torch.no_grad():
            if cell:
                s = t(torch.from_numpy(xf), s)
                want = s if isinstance(s, tuple) else (s,)
                got = f(xf)
                got = got if isinstance(got, tuple) else (got,)
            else:
                y, s = t(torch.from_numpy(xf), s)
                want = (y,) + (s if isinstance(s, tuple) else (s,))
                gy, gs = f(xf)
                got = (gy,) + (gs if isinstance(gs, tuple) else (gs,))
        for a, b in zip(got, want):
            assert_close(a, b.numpy(), kind)
