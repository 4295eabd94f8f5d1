"""Training helpers without torch: bad input, and behaviour."""
import numpy as np
import pytest

import crnn


def test_optimizer_bad_input():
    m = crnn.RNN(2, 3)
    with pytest.raises(ValueError, match="params: got an empty parameter list"):
        crnn.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr: expected a number greater than 0, got 0"):
        crnn.optim.SGD(m.parameters(), lr=0)
    with pytest.raises(ValueError, match="lr: .* got -1"):
        crnn.optim.Adam(m.parameters(), lr=-1)
    with pytest.raises(TypeError, match="params: expected crnn Parameters"):
        crnn.optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="nesterov"):
        crnn.optim.SGD(m.parameters(), lr=0.1, nesterov=True)


def test_optimizer_updates_flat_buffers_and_single_parameters():
    m = crnn.RNN(2, 3, dtype=np.float64)
    m.flat_gradients[:] = 1.0
    before = m.flat_parameters.copy()
    crnn.optim.SGD(m.parameters(), lr=0.5).step()          # whole module: one flat update
    np.testing.assert_allclose(m.flat_parameters, before - 0.5)
    only = m.weight_hh_l0
    before = m.flat_parameters.copy()
    crnn.optim.SGD([only], lr=1.0).step()                   # a single parameter
    changed = m.flat_parameters != before
    assert changed.sum() == only.data.size


def test_loss_bad_input():
    ce = crnn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="target: class indices must be in \\[0, 3\\)"):
        ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="target: expected shape \\(2,\\)"):
        ce(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="target: expected integer class indices"):
        ce(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="target: expected the input's shape"):
        crnn.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="reduction"):
        crnn.MSELoss("avg")
    with pytest.raises(ValueError, match="input: expected \\(..., 4\\)"):
        crnn.Linear(4, 2)(np.zeros((3, 5)))


def test_streaming_in_chunks_equals_one_call():
    """State carried across calls: a sequence run in chunks (passing h_n,
    or (h_n, c_n), along) gives the outputs of one call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2, 3))
    for kind in ("RNN", "LSTM", "GRU"):
        m = getattr(crnn, kind)(3, 5, 2, dtype=np.float64, seed=0).eval()
        whole, _ = m(x)
        state, parts = None, []
        for a, b in [(0, 7), (7, 8), (8, 30)]:
            out, state = m(x[a:b], state)
            parts.append(out)
        np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-12, atol=1e-12)
        cell = getattr(crnn, kind + "Cell")(3, 5, dtype=np.float64, seed=1).eval()
        layer = getattr(crnn, kind)(3, 5, dtype=np.float64).eval()
        layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
        ref, _ = layer(x[:, 0])
        h = None
        for t in range(30):
            h = cell(x[t, 0], h)
            step = h[0] if isinstance(h, tuple) else h
            np.testing.assert_allclose(step, ref[t], rtol=1e-12, atol=1e-12)


def test_backward_from_the_final_state_only():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 2))
    for kind in ("GRU", "LSTM"):
        a = getattr(crnn, kind)(2, 4, 2, dtype=np.float64, seed=0)
        b = getattr(crnn, kind)(2, 4, 2, dtype=np.float64, seed=0)
        out, st = a(x)
        g = [rng.standard_normal(s.shape) for s in (st if kind == "LSTM" else (st,))]
        ga, _ = a.backward(None, tuple(g) if kind == "LSTM" else g[0])
        out, _ = b(x)
        gb, _ = b.backward(np.zeros_like(out), tuple(g) if kind == "LSTM" else g[0])
        np.testing.assert_array_equal(ga, gb)
        np.testing.assert_array_equal(a.flat_gradients, b.flat_gradients)
