"""crnn.RNN and crnn.RNNCell against torch.nn: forward, final states and
every gradient, over many random configurations."""
import numpy as np
import pytest
import torch

import crnn
from conftest import assert_close

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def torch_twin(module, cls):
    """A torch module of the same configuration with the same weights,
    loaded by name from crnn's state_dict."""
    if isinstance(module, crnn.RNN):
        t = cls(module.input_size, module.hidden_size, module.num_layers,
                module.nonlinearity, module.bias, module.batch_first,
                module.dropout, module.bidirectional)
    else:
        t = cls(module.input_size, module.hidden_size, module.bias, module.nonlinearity)
    t = t.to(TORCH_DTYPE[module.dtype.type])
    t.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    return t


def random_config(rng, dtype):
    return dict(input_size=int(rng.integers(1, 31)), hidden_size=int(rng.integers(1, 31)),
                num_layers=int(rng.integers(1, 4)),
                nonlinearity=str(rng.choice(["tanh", "relu"])),
                bias=bool(rng.integers(2)), batch_first=bool(rng.integers(2)),
                bidirectional=bool(rng.integers(2)), dtype=dtype)


def check_against_torch(rnn, x, h0, rng):
    """Forward, h_n and all gradients (input, h_0, every parameter) of crnn
    and torch on the same data, with random output gradients."""
    t = torch_twin(rnn, torch.nn.RNN)
    out, hn = rnn(x, h0)
    xt = torch.from_numpy(x).requires_grad_()
    h0t = None if h0 is None else torch.from_numpy(h0).requires_grad_()
    out_t, hn_t = t(xt, h0t)
    assert_close(out, out_t.detach().numpy(), "output")
    assert_close(hn, hn_t.detach().numpy(), "h_n")

    g_out = rng.standard_normal(out.shape).astype(rnn.dtype)
    g_hn = rng.standard_normal(hn.shape).astype(rnn.dtype)
    ((out_t * torch.from_numpy(g_out)).sum() + (hn_t * torch.from_numpy(g_hn)).sum()).backward()
    gx, gh0 = rnn.backward(g_out, g_hn)
    assert_close(gx, xt.grad.numpy(), "grad input")
    if h0 is None:
        assert gh0 is None
    else:
        assert_close(gh0, h0t.grad.numpy(), "grad h_0")
    tp = dict(t.named_parameters())
    names = [n for n, _ in rnn.named_parameters()]
    assert names == list(tp), "parameter names and order follow torch"
    for name, p in rnn.named_parameters():
        assert_close(p.grad, tp[name].grad.numpy(), f"grad {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(30))
def test_random_configurations(seed, dtype):
    rng = np.random.default_rng(1000 * seed + (dtype == np.float64))
    cfg = random_config(rng, dtype)
    rnn = crnn.RNN(**cfg, seed=seed)
    L, N = int(rng.integers(1, 13)), int(rng.integers(1, 9))
    D = 2 if cfg["bidirectional"] else 1
    shape = (N, L, cfg["input_size"]) if cfg["batch_first"] else (L, N, cfg["input_size"])
    x = rng.standard_normal(shape).astype(dtype)
    h0 = None
    if rng.integers(2):
        h0 = rng.standard_normal((D * cfg["num_layers"], N, cfg["hidden_size"])).astype(dtype)
    check_against_torch(rnn, x, h0, rng)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("h0_given", [False, True])
def test_unbatched_input(batch_first, h0_given):
    rng = np.random.default_rng(7)
    rnn = crnn.RNN(4, 6, 2, bidirectional=True, batch_first=batch_first, seed=3,
                   dtype=np.float64)
    x = rng.standard_normal((5, 4))            # (L, H_in): batch_first does not apply
    h0 = rng.standard_normal((4, 6)) if h0_given else None
    out, hn = rnn(x, h0)
    assert out.shape == (5, 12) and hn.shape == (4, 6)
    check_against_torch(rnn, x, h0, rng)


@pytest.mark.parametrize("N,L", [(1, 9), (1, 1), (3, 1), (7, 2)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_degenerate_shapes(N, L, batch_first):
    """Batch 1, one step and L < N take other BLAS paths (gemv, per-step
    input blocks); they must agree with torch too."""
    rng = np.random.default_rng(N * 10 + L)
    rnn = crnn.RNN(3, 5, 2, bidirectional=True, batch_first=batch_first, seed=1)
    x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(np.float32)
    check_against_torch(rnn, x, rng.standard_normal((4, N, 5)).astype(np.float32), rng)


def test_empty_batch_matches_torch():
    rnn = crnn.RNN(3, 4, 2, bidirectional=True, dtype=np.float64)
    out, hn = rnn(np.zeros((5, 0, 3)))
    t_out, t_hn = torch_twin(rnn, torch.nn.RNN)(torch.zeros(5, 0, 3, dtype=torch.float64))
    assert out.shape == tuple(t_out.shape) and hn.shape == tuple(t_hn.shape)
    gx, gh0 = rnn.backward(np.zeros(out.shape), np.zeros(hn.shape))
    assert gx.shape == (5, 0, 3) and gh0 is None


def test_strided_and_foreign_inputs_give_the_same_numbers():
    """Non-contiguous, negative-stride, Fortran-ordered, read-only, float64
    and list inputs all give the contiguous float32 result."""
    rng = np.random.default_rng(5)
    rnn = crnn.RNN(4, 7, 2, bidirectional=True, seed=2).eval()
    x = rng.standard_normal((6, 3, 4)).astype(np.float32)
    ref, ref_h = rnn(x)
    ro = x.copy()
    ro.flags.writeable = False
    wide = np.zeros((6, 3, 8), np.float32)
    wide[:, :, ::2] = x
    variants = [x[::-1][::-1], np.asfortranarray(x), ro, x.astype(np.float64),
                x.tolist(), wide[:, :, ::2], torch.from_numpy(x)]
    for v in variants:
        out, hn = rnn(v)
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(hn, ref_h)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(8))
def test_cell_against_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    I, H, N = (int(v) for v in rng.integers(1, 20, 3))
    nl = ["tanh", "relu"][seed % 2]
    cell = crnn.RNNCell(I, H, bias=bool(seed % 3), nonlinearity=nl, dtype=dtype, seed=seed)
    t = torch_twin(cell, torch.nn.RNNCell)
    batched = seed % 4 != 3
    x = rng.standard_normal((N, I) if batched else (I,)).astype(dtype)
    h = rng.standard_normal((N, H) if batched else (H,)).astype(dtype) if seed % 5 else None
    h1 = cell(x, h)
    xt = torch.from_numpy(x).requires_grad_()
    ht = None if h is None else torch.from_numpy(h).requires_grad_()
    h1t = t(xt, ht)
    assert_close(h1, h1t.detach().numpy(), "h'")
    g = rng.standard_normal(h1.shape).astype(dtype)
    (h1t * torch.from_numpy(g)).sum().backward()
    gx, gh = cell.backward(g)
    assert_close(gx, xt.grad.numpy(), "grad input")
    if h is None:
        assert gh is None
    else:
        assert_close(gh, ht.grad.numpy(), "grad hx")
    tp = dict(t.named_parameters())
    for name, p in cell.named_parameters():
        assert_close(p.grad, tp[name].grad.numpy(), f"grad {name}")


def test_torch_state_dict_loads_by_name():
    t = torch.nn.RNN(5, 8, 3, nonlinearity="relu", bidirectional=True)
    rnn = crnn.RNN(5, 8, 3, nonlinearity="relu", bidirectional=True)
    rnn.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(np.float32)
    out, hn = rnn(x)
    out_t, hn_t = t(torch.from_numpy(x))
    assert_close(out, out_t.detach().numpy())
    assert_close(hn, hn_t.detach().numpy())
    # torch tensors themselves load too
    rnn.load_state_dict(t.state_dict())
    assert_close(rnn(x)[0], out_t.detach().numpy())


def test_repr_matches_torch():
    for args, kw in [((10, 20), {}), ((10, 20, 2), dict(dropout=0.5, bidirectional=True)),
                     ((3, 4), dict(bias=False, batch_first=True, nonlinearity="relu"))]:
        assert repr(crnn.RNN(*args, **kw)) == repr(torch.nn.RNN(*args, **kw))
    assert repr(crnn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu"))


def test_parameter_gradients_accumulate_until_zero_grad():
    rng = np.random.default_rng(1)
    rnn = crnn.RNN(3, 4, 2, dtype=np.float64)
    x = rng.standard_normal((5, 2, 3))
    out, hn = rnn(x)
    g = rng.standard_normal(out.shape)
    rnn.backward(g)
    once = rnn.flat_gradients.copy()
    assert np.abs(once).sum() > 0
    rnn(x)
    rnn.backward(g)
    np.testing.assert_allclose(rnn.flat_gradients, 2 * once, rtol=1e-12)
    rnn.zero_grad()
    assert not rnn.flat_gradients.any()
