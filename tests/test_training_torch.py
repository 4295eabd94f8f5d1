"""Linear, the losses, the optimizers and gradient clipping against torch,
and a small model's training trajectory against torch's."""
import numpy as np
import pytest
import torch

import crnn
from conftest import assert_close


def test_linear_any_rank_against_torch():
    rng = np.random.default_rng(0)
    lin = crnn.Linear(5, 3, dtype=np.float64, seed=1)
    t = torch.nn.Linear(5, 3).double()
    t.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    x = rng.standard_normal((4, 2, 5))
    xt = torch.from_numpy(x).requires_grad_()
    y, yt = lin(x), t(xt)
    assert_close(y, yt.detach().numpy())
    g = rng.standard_normal(y.shape)
    (yt * torch.from_numpy(g)).sum().backward()
    assert_close(lin.backward(g), xt.grad.numpy())
    for n, p in lin.named_parameters():
        assert_close(p.grad, dict(t.named_parameters())[n].grad.numpy())
    assert repr(crnn.Linear(5, 3)) == repr(torch.nn.Linear(5, 3))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_against_torch(reduction):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    xt = torch.from_numpy(x).requires_grad_()
    mse = crnn.MSELoss(reduction)
    ref = torch.nn.MSELoss(reduction=reduction)(xt, torch.from_numpy(t))
    assert mse(x, t) == pytest.approx(ref.item(), rel=1e-12)
    ref.backward()
    assert_close(mse.backward(), xt.grad.numpy())

    y = np.array([0, 3, 1, -100, 2, 3])
    xt = torch.from_numpy(x).requires_grad_()
    ce = crnn.CrossEntropyLoss(reduction, ignore_index=-100)
    ref = torch.nn.CrossEntropyLoss(reduction=reduction, ignore_index=-100)(xt, torch.from_numpy(y))
    assert ce(x, y) == pytest.approx(ref.item(), rel=1e-12)
    ref.backward()
    assert_close(ce.backward(), xt.grad.numpy())


@pytest.mark.parametrize("make", [
    lambda p: (crnn.optim.SGD(p, lr=0.1), lambda q: torch.optim.SGD(q, lr=0.1)),
    lambda p: (crnn.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True),
               lambda q: torch.optim.SGD(q, lr=0.05, momentum=0.9, weight_decay=0.01,
                                         nesterov=True)),
    lambda p: (crnn.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.1),
               lambda q: torch.optim.SGD(q, lr=0.05, momentum=0.5, dampening=0.1)),
    lambda p: (crnn.optim.Adam(p), lambda q: torch.optim.Adam(q)),
    lambda p: (crnn.optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
               lambda q: torch.optim.Adam(q, lr=0.01, weight_decay=0.1, amsgrad=True)),
    lambda p: (crnn.optim.AdamW(p, lr=0.01), lambda q: torch.optim.AdamW(q, lr=0.01)),
], ids=["sgd", "sgd-nesterov", "sgd-dampening", "adam", "adam-amsgrad", "adamw"])
def test_optimizers_follow_torch(make):
    rng = np.random.default_rng(2)
    m = crnn.GRU(3, 4, dtype=np.float64, seed=0)
    opt, make_t = make(m.parameters())
    tp = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in m.parameters()]
    topt = make_t(tp)
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in m.parameters()]
        for p, g, q in zip(m.parameters(), grads, tp):
            p.grad[...] = g
            q.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, q in zip(m.parameters(), tp):
            assert_close(p.data, q.detach().numpy(), "parameter after step")
    opt.zero_grad()
    assert not m.flat_gradients.any()


def test_clip_grad_norm_against_torch():
    rng = np.random.default_rng(3)
    m = crnn.LSTM(3, 4, dtype=np.float64)
    grads = [rng.standard_normal(p.shape) for p in m.parameters()]
    tp = []
    for p, g in zip(m.parameters(), grads):
        p.grad[...] = g
        q = torch.nn.Parameter(torch.zeros(p.shape, dtype=torch.float64))
        q.grad = torch.from_numpy(g.copy())
        tp.append(q)
    total = crnn.utils.clip_grad_norm_(m.parameters(), 1.5)
    ref = torch.nn.utils.clip_grad_norm_(tp, 1.5)
    assert total == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(m.parameters(), tp):
        assert_close(p.grad, q.grad.numpy())


def test_training_follows_torchs_trajectory():
    """LSTM + Linear + MSE + Adam, a few steps on the same data and initial
    weights: the losses and the weights stay together."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 8, 2))
    y = rng.standard_normal((12, 8, 1))
    lstm, head = crnn.LSTM(2, 6, dtype=np.float64, seed=1), crnn.Linear(6, 1, dtype=np.float64, seed=2)
    t_lstm, t_head = torch.nn.LSTM(2, 6).double(), torch.nn.Linear(6, 1).double()
    t_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm.state_dict().items()})
    t_head.load_state_dict({k: torch.from_numpy(v) for k, v in head.state_dict().items()})
    opt = crnn.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.01)
    topt = torch.optim.Adam(list(t_lstm.parameters()) + list(t_head.parameters()), lr=0.01)
    loss_fn = crnn.MSELoss()
    for _ in range(6):
        opt.zero_grad()
        out, _ = lstm(x)
        loss = loss_fn(head(out), y)
        lstm.backward(head.backward(loss_fn.backward()))
        opt.step()
        topt.zero_grad()
        t_loss = torch.nn.functional.mse_loss(t_head(t_lstm(torch.from_numpy(x))[0]),
                                              torch.from_numpy(y))
        t_loss.backward()
        topt.step()
        assert loss == pytest.approx(t_loss.item(), rel=1e-10)
    for n, p in lstm.named_parameters():
        assert_close(p.data, dict(t_lstm.named_parameters())[n].detach().numpy())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), float("-inf"), 0.0])
def test_clip_grad_norm_types_against_torch(norm_type):
    rng = np.random.default_rng(7)
    m = crnn.GRU(2, 3, dtype=np.float64)
    m.flat_gradients[:] = rng.standard_normal(m.flat_gradients.shape)
    m.flat_gradients[::5] = 0
    tp = []
    for p in m.parameters():
        q = torch.nn.Parameter(torch.zeros(p.shape, dtype=torch.float64))
        q.grad = torch.from_numpy(p.grad.copy())
        tp.append(q)
    total = crnn.utils.clip_grad_norm_(m.parameters(), 0.5, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tp, 0.5, norm_type)
    assert total == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(m.parameters(), tp):
        assert_close(p.grad, q.grad.numpy())
    m.flat_gradients[3] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        crnn.utils.clip_grad_norm_(m.parameters(), 0.5, float("inf"), error_if_nonfinite=True)


def test_duplicate_parameters_are_updated_once_like_torch():
    m = crnn.Linear(3, 2, dtype=np.float64)
    w = torch.nn.Parameter(torch.from_numpy(m.weight.data.copy()))
    with pytest.warns(UserWarning, match="more than once"):
        opt = crnn.optim.Adam([m.weight, m.weight], lr=0.1)
    topt = torch.optim.Adam([w], lr=0.1)
    for _ in range(3):
        m.weight.grad[...] = 1.0
        w.grad = torch.ones_like(w)
        opt.step()
        topt.step()
    assert_close(m.weight.data, w.detach().numpy())


def test_linear_bias_is_the_parameter_or_none():
    assert crnn.Linear(2, 3).bias.shape == (3,)
    assert crnn.Linear(2, 3, bias=False).bias is None
    assert torch.nn.Linear(2, 3, bias=False).bias is None
