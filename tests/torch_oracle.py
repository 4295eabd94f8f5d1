"""Run a crnn module and its torch twin on the same data and compare
outputs, final states and every gradient. Shared by the torch tests."""
import numpy as np
import torch

import crnn
from conftest import assert_close

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
KINDS = ("RNN", "LSTM", "GRU")


def is_lstm(module):
    return isinstance(module, (crnn.LSTM, crnn.LSTMCell))


def torch_twin(module):
    """A torch module of the same configuration with the same weights,
    loaded by name from crnn's state_dict."""
    cls = getattr(torch.nn, type(module).__name__)
    if isinstance(module, crnn.RNNBase):
        kw = dict(num_layers=module.num_layers, bias=module.bias,
                  batch_first=module.batch_first, dropout=module.dropout,
                  bidirectional=module.bidirectional)
        if isinstance(module, crnn.RNN):
            kw["nonlinearity"] = module.nonlinearity
        if module.proj_size:
            kw["proj_size"] = module.proj_size
    else:
        kw = dict(bias=module.bias)
        if isinstance(module, crnn.RNNCell):
            kw["nonlinearity"] = module.nonlinearity
    t = cls(module.input_size, module.hidden_size, **kw).to(TORCH_DTYPE[module.dtype])
    t.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    return t


def state_parts(module, state):
    """A state (array, or (h, c) for LSTM) as a list; None stays None."""
    if state is None:
        return None
    return list(state) if is_lstm(module) else [state]


def join(module, parts):
    return tuple(parts) if is_lstm(module) else parts[0]


def random_state(module, rng, N, batched=True):
    """A random initial state of the right shapes for module."""
    if isinstance(module, crnn.RNNBase):
        lead = (module.num_directions * module.num_layers,)
        sizes = [module.proj_size or module.hidden_size] + \
            ([module.hidden_size] if is_lstm(module) else [])
    else:
        lead = ()
        sizes = [module.hidden_size] * (2 if is_lstm(module) else 1)
    batch = (N,) if batched else ()
    return join(module, [rng.standard_normal(lead + batch + (F,)).astype(module.dtype)
                         for F in sizes])


def check_against_torch(module, x, hx, rng):
    """Forward, final states and all gradients (input, initial state, every
    parameter) of crnn and torch on the same data, with random output
    gradients."""
    t = torch_twin(module)
    layer = isinstance(module, crnn.RNNBase)
    result = module(x, hx)
    out, state = result if layer else (None, result)
    xt = torch.from_numpy(x).requires_grad_()
    hx_parts = state_parts(module, hx)
    hxt = None if hx is None else [torch.from_numpy(h).requires_grad_() for h in hx_parts]
    result_t = t(xt, None if hxt is None else join(module, hxt))
    out_t, state_t = result_t if layer else (None, result_t)
    if layer:
        assert_close(out, out_t.detach().numpy(), "output")
    for i, (a, b) in enumerate(zip(state_parts(module, state), state_parts(module, state_t))):
        assert_close(a, b.detach().numpy(), f"final state {i}")

    loss = 0
    g_out = None
    if layer:
        g_out = rng.standard_normal(out.shape).astype(module.dtype)
        loss = (out_t * torch.from_numpy(g_out)).sum()
    g_state = [rng.standard_normal(s.shape).astype(module.dtype)
               for s in state_parts(module, state)]
    for s, g in zip(state_parts(module, state_t), g_state):
        loss = loss + (s * torch.from_numpy(g)).sum()
    loss.backward()
    if layer:
        gx, ghx = module.backward(g_out, join(module, g_state))
    else:
        gx, ghx = module.backward(join(module, g_state))
    assert_close(gx, xt.grad.numpy(), "grad input")
    if hx is None:
        assert ghx is None
    else:
        for i, (a, b) in enumerate(zip(state_parts(module, ghx), hxt)):
            assert_close(a, b.grad.numpy(), f"grad initial state {i}")
    tp = dict(t.named_parameters())
    assert [n for n, _ in module.named_parameters()] == list(tp), \
        "parameter names and order follow torch"
    for name, p in module.named_parameters():
        assert_close(p.grad, tp[name].grad.numpy(), f"grad {name}")
