"""Accuracy of crnn.quantize against float32, with torch's dynamic int8
quantization (torch.ao.quantization.quantize_dynamic: per-tensor int8
weights, 7-bit activations on x86) as the oracle: on the same weights,
crnn's int8 error must be no larger than torch's, on every instruction set
(the paths without VNNI quantize inputs to 63 levels each side, the others
to 127). Kinds torch does not quantize (Elman RNN, LSTM with projections)
have a stated bound: 3e-2, about 1.6x the largest error measured (1.9e-2,
LSTM(64, 256, proj_size=64) at 63 levels). bfloat16: below 5e-3."""
import warnings

import numpy as np
import pytest
import torch

import crnn
from crnn import _kernels
from test_quantize import isa

INT8_BOUND = 3e-2
BF16_BOUND = 5e-3


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def models(kind, seed, **kw):
    """A torch model (torch's default initialisation) and its crnn twin."""
    torch.manual_seed(seed)
    t = getattr(torch.nn, kind)(64, 256, **kw)
    m = getattr(crnn, kind)(64, 256, **kw).eval()
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, m


def torch_int8(t):
    """torch's dynamic int8 twin (quantize_dynamic swaps children only: the
    layer goes in a container)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(t),
                                                   {torch.nn.LSTM, torch.nn.GRU},
                                                   dtype=torch.qint8)[0]
    assert type(q) is not type(t)       # it really was swapped
    return q


def inputs(seed):
    return torch.randn(100, 8, 64, generator=torch.Generator().manual_seed(seed + 100))


@pytest.mark.parametrize("name", _kernels.isa_supported())
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("seed", [0, 1])
def test_int8_error_is_no_larger_than_torchs(kind, seed, name):
    t, m = models(kind, seed)
    x = inputs(seed)
    with torch.no_grad():
        y, yt = t(x)[0].numpy(), torch_int8(t)(x)[0].numpy()
    with isa(name):
        y8 = crnn.quantize(m, "int8")(x.numpy())[0]
    assert rel(y8, y) <= rel(yt, y), (rel(y8, y), rel(yt, y))


@pytest.mark.parametrize("name", _kernels.isa_supported())
@pytest.mark.parametrize("kind,kw", [("RNN", {}), ("RNN", dict(nonlinearity="relu")),
                                     ("LSTM", dict(proj_size=64)), ("LSTM", {}), ("GRU", {})])
def test_int8_and_bfloat16_errors_are_within_their_bounds(kind, kw, name):
    t, m = models(kind, 2, **kw)
    x = inputs(2)
    with torch.no_grad():
        y = t(x)[0].numpy()
    with isa(name):
        e8 = rel(crnn.quantize(m, "int8")(x.numpy())[0], y)
        e16 = rel(crnn.quantize(m, "bfloat16")(x.numpy())[0], y)
    assert e8 < INT8_BOUND and e16 < BF16_BOUND, (e8, e16)
