"""Gradients against float64 central differences, without torch."""
import numpy as np
import pytest

import crnn

EPS = 1e-6
# A central difference with step 1e-6 on O(1) smooth functions is accurate to
# ~1e-10 (truncation eps^2 plus rounding 1e-16/eps); 1e-7 relative to the
# gradient's scale leaves room for curvature while catching any real error.
FD_RTOL = 1e-7


def parts(state):
    """A state as a list of arrays: h, or (h, c) for LSTM."""
    return list(state) if isinstance(state, tuple) else [state]


def loss_fn(module, x, hx, g_out, g_state, seed=None):
    """sum(out * g_out) + sum(state * g_state); with seed, the dropout masks
    are drawn afresh from the same global seed every time."""
    if seed is not None:
        crnn.manual_seed(seed)
    out, state = module(x, hx)
    return float((out * g_out).sum() + sum((s * g).sum() for s, g in zip(parts(state), g_state)))


def numeric_grad(f, arr, idx):
    old = arr[idx]
    arr[idx] = old + EPS
    up = f()
    arr[idx] = old - EPS
    down = f()
    arr[idx] = old
    return (up - down) / (2 * EPS)


def check_fd(module, x, hx, seed=None, n_probe=12):
    rng = np.random.default_rng(0)
    if seed is not None:
        crnn.manual_seed(seed)
    out, state = module(x, hx)
    g_out = rng.standard_normal(out.shape)
    g_state = [rng.standard_normal(s.shape) for s in parts(state)]
    module.zero_grad()
    gx, ghx = module.backward(g_out, tuple(g_state) if isinstance(state, tuple) else g_state[0])

    def f():
        return loss_fn(module, x, hx, g_out, g_state, seed)

    checks = [("input", x, gx)]
    if hx is not None:
        checks += [(f"state {i}", h, g) for i, (h, g) in enumerate(zip(parts(hx), parts(ghx)))]
    checks += [(n, p.data, p.grad) for n, p in module.named_parameters()]
    for name, arr, grad in checks:
        scale = max(1.0, np.abs(grad).max())
        for _ in range(n_probe):
            idx = tuple(int(rng.integers(s)) for s in arr.shape)
            num = numeric_grad(f, arr, idx)
            assert abs(num - grad[idx]) <= FD_RTOL * scale, (name, idx, num, grad[idx])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn_finite_differences(nonlinearity, bidirectional, batch_first):
    rng = np.random.default_rng(3)
    rnn = crnn.RNN(4, 5, 2, nonlinearity=nonlinearity, bidirectional=bidirectional,
                   batch_first=batch_first, dtype=np.float64, seed=1)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((3, 6, 4) if batch_first else (6, 3, 4))
    h0 = rng.standard_normal((2 * D, 3, 5))
    check_fd(rnn, x, h0)


def test_rnn_without_bias_and_h0_finite_differences():
    rng = np.random.default_rng(4)
    rnn = crnn.RNN(3, 4, 3, bias=False, dtype=np.float64, seed=2)
    check_fd(rnn, rng.standard_normal((5, 2, 3)), None)


def test_dropout_backward_matches_finite_differences_under_a_fixed_seed():
    rng = np.random.default_rng(5)
    rnn = crnn.RNN(3, 6, 3, dropout=0.4, bidirectional=True, dtype=np.float64)
    check_fd(rnn, rng.standard_normal((5, 2, 3)), rng.standard_normal((6, 2, 6)), seed=11)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_gated_finite_differences(kind, bidirectional, batch_first):
    rng = np.random.default_rng(8)
    m = getattr(crnn, kind)(4, 5, 2, bidirectional=bidirectional, batch_first=batch_first,
                            dtype=np.float64, seed=1)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((3, 6, 4) if batch_first else (6, 3, 4))
    hx = [rng.standard_normal((2 * D, 3, 5)) for _ in range(2 if kind == "LSTM" else 1)]
    check_fd(m, x, tuple(hx) if kind == "LSTM" else hx[0])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_projection_finite_differences(bidirectional):
    rng = np.random.default_rng(9)
    m = crnn.LSTM(3, 6, 2, proj_size=4, bidirectional=bidirectional, dtype=np.float64, seed=2)
    D = 2 if bidirectional else 1
    hx = (rng.standard_normal((2 * D, 2, 4)), rng.standard_normal((2 * D, 2, 6)))
    check_fd(m, rng.standard_normal((5, 2, 3)), hx)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_gated_dropout_finite_differences(kind):
    rng = np.random.default_rng(10)
    m = getattr(crnn, kind)(3, 4, 3, dropout=0.3, dtype=np.float64)
    check_fd(m, rng.standard_normal((4, 2, 3)), None, seed=12)


@pytest.mark.parametrize("cls,kw", [("RNNCell", dict(nonlinearity="tanh")),
                                    ("RNNCell", dict(nonlinearity="relu")),
                                    ("LSTMCell", {}), ("GRUCell", {})])
def test_cell_finite_differences(cls, kw):
    rng = np.random.default_rng(6)
    cell = getattr(crnn, cls)(4, 5, dtype=np.float64, seed=3, **kw)
    x = rng.standard_normal((3, 4))
    hx = [rng.standard_normal((3, 5)) for _ in range(2 if cls == "LSTMCell" else 1)]
    hx_arg = tuple(hx) if cls == "LSTMCell" else hx[0]
    state = cell(x, hx_arg)
    g = [rng.standard_normal(s.shape) for s in parts(state)]
    gx, ghx = cell.backward(tuple(g) if cls == "LSTMCell" else g[0])

    def f():
        return float(sum((s * gs).sum() for s, gs in zip(parts(cell(x, hx_arg)), g)))
    checks = [(x, gx)] + list(zip(hx, parts(ghx))) + [(p.data, p.grad) for p in cell.parameters()]
    for arr, grad in checks:
        for idx in np.ndindex(arr.shape):
            num = numeric_grad(f, arr, idx)
            assert abs(num - grad[idx]) <= FD_RTOL * max(1.0, np.abs(grad).max())
