"""Gradients against float64 central differences, without torch."""
import numpy as np
import pytest

import crnn

EPS = 1e-6
# A central difference with step 1e-6 on O(1) smooth functions is accurate to
# ~1e-10 (truncation eps^2 plus rounding 1e-16/eps); 1e-7 relative to the
# gradient's scale leaves room for curvature while catching any real error.
FD_RTOL = 1e-7


def loss_fn(module, x, h0, g_out, g_hn, seed=None):
    """sum(out * g_out) + sum(h_n * g_hn); with seed, the dropout masks are
    drawn afresh from the same global seed every time."""
    if seed is not None:
        crnn.manual_seed(seed)
    out, hn = module(x, h0)
    return float((out * g_out).sum() + (hn * g_hn).sum())


def numeric_grad(f, arr, idx):
    old = arr[idx]
    arr[idx] = old + EPS
    up = f()
    arr[idx] = old - EPS
    down = f()
    arr[idx] = old
    return (up - down) / (2 * EPS)


def check_fd(module, x, h0, seed=None, n_probe=12):
    rng = np.random.default_rng(0)
    if seed is not None:
        crnn.manual_seed(seed)
    out, hn = module(x, h0)
    g_out = rng.standard_normal(out.shape)
    g_hn = rng.standard_normal(hn.shape)
    module.zero_grad()
    gx, gh0 = module.backward(g_out, g_hn)

    def f():
        return loss_fn(module, x, h0, g_out, g_hn, seed)

    checks = [("input", x, gx)] + ([("h_0", h0, gh0)] if h0 is not None else [])
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


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_cell_finite_differences(nonlinearity):
    rng = np.random.default_rng(6)
    cell = crnn.RNNCell(4, 5, nonlinearity=nonlinearity, dtype=np.float64, seed=3)
    x = rng.standard_normal((3, 4))
    h = rng.standard_normal((3, 5))
    h1 = cell(x, h)
    g = rng.standard_normal(h1.shape)
    gx, gh = cell.backward(g)
    for arr, grad in [(x, gx), (h, gh)] + [(p.data, p.grad) for p in cell.parameters()]:
        for idx in np.ndindex(arr.shape):
            num = numeric_grad(lambda: float((cell(x, h) * g).sum()), arr, idx)
            assert abs(num - grad[idx]) <= FD_RTOL * max(1.0, np.abs(grad).max())
