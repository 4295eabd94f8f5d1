"""torch's everyday module methods on crnn modules: .double(), .float(),
.to(dtype / device / tensor), .cpu(), .requires_grad_(); the ones that
cannot mean anything here (.cuda(), .half(), a GPU device) refused saying
why. A converted module computes in its new dtype what torch computes
(forward, final states, every gradient)."""
import numpy as np
import pytest
import torch

import crnn
from torch_oracle import check_against_torch, random_state

LAYERS = [lambda: crnn.RNN(3, 5, 2, nonlinearity="relu", seed=1),
          lambda: crnn.LSTM(3, 6, 2, proj_size=2, bidirectional=True, seed=2),
          lambda: crnn.GRU(3, 5, batch_first=True, seed=3),
          lambda: crnn.LSTMCell(3, 4, seed=4), lambda: crnn.GRUCell(3, 4, seed=5)]


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(np.float64),
                                     lambda m: m.to(torch.float64),
                                     lambda m: m.to("cpu", torch.float64),
                                     lambda m: m.to(torch.zeros(2, dtype=torch.float64)),
                                     lambda m: m.to(device="cpu", dtype="float64")])
def test_double_computes_what_torch_computes(make, convert):
    m = make()
    before = m.state_dict()
    params = list(m.parameters())
    assert convert(m) is m and m.dtype == np.float64
    assert list(m.parameters()) == params                     # the same Parameter objects
    for name, p in m.named_parameters():
        assert p.data.dtype == p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, before[name])   # widened exactly
        assert np.shares_memory(p.data, m.flat_parameters)
        assert np.shares_memory(p.grad, m.flat_gradients)
    rng = np.random.default_rng(0)
    layer = isinstance(m, crnn.RNNBase)
    N = 3
    x = rng.standard_normal(((N, 4) if m.batch_first else (4, N)) + (3,) if layer
                            else (N, 3))
    check_against_torch(m, x, random_state(m, rng, N), rng)


def test_float_after_double_and_no_ops():
    m = crnn.GRU(3, 4, seed=0)
    w = m.weight_hh_l0.data.copy()
    flat = m.flat_parameters
    assert m.float() is m and m.to("cpu") is m and m.cpu() is m and m.to(np.float32) is m
    assert m.to("float32") is m
    assert m.flat_parameters is flat                           # nothing to convert
    m.to("float64").float()
    assert m.dtype == np.float32 and m.weight_hh_l0.dtype == np.float32
    np.testing.assert_array_equal(m.weight_hh_l0.data, w)
    out, h = m(np.ones((2, 1, 3)))
    assert out.dtype == h.dtype == np.float32


def test_linear_converts_too():
    lin = crnn.Linear(3, 2, seed=0)
    t = torch.nn.Linear(3, 2).double()
    t.load_state_dict({k: torch.from_numpy(v).double() for k, v in lin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = lin.double()(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_requires_grad():
    m = crnn.LSTM(2, 3)
    assert m.requires_grad_() is m and m.requires_grad_(True) is m
    with pytest.raises(ValueError, match="requires_grad: .*expected True, got False.*"
                                         "out of the optimizer"):
        m.requires_grad_(False)
    with pytest.raises(TypeError, match="requires_grad: expected a bool, got str"):
        m.requires_grad_("yes")


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.to("cuda"), ValueError, r"device: crnn runs on the CPU only; expected 'cpu', "
                                         r"got 'cuda'"),
    (lambda m: m.to(torch.device("cuda:0")), ValueError, "got 'cuda:0'"),
    (lambda m: m.cuda(), RuntimeError, r"cuda\(\): crnn runs on the CPU only"),
    (lambda m: m.half(), TypeError, r"half\(\): crnn computes in float32 or float64.*"
                                    r"crnn.quantize\(GRU\(...\), 'bfloat16'\)"),
    (lambda m: m.bfloat16(), TypeError, "crnn.quantize"),
    (lambda m: m.to(np.float16), TypeError, "dtype: expected float32 or float64"),
    (lambda m: m.to(torch.int64), TypeError, "dtype: expected float32 or float64"),
    (lambda m: m.to("cpu", np.float32, torch.float64), TypeError, "at most a device and a"),
    (lambda m: m.to(dtpe=np.float64), TypeError, r"unexpected keyword arguments \['dtpe'\]"),
])
def test_what_cannot_make_sense_is_refused_saying_why(call, error, match):
    m = crnn.GRU(2, 3)
    with pytest.raises(error, match=match):
        call(m)
    assert m.dtype == np.float32


def test_quantized_module_stays_float32():
    q = crnn.quantize(crnn.GRU(4, 8, seed=0), "int8")
    assert q.float() is q
    with pytest.raises(TypeError, match="quantized GRU computes in float32 from its int8 "
                                        "weights, got float64; convert the float module"):
        q.double()


def test_a_pending_training_forward_is_dropped():
    m = crnn.GRU(2, 3)
    out, _ = m(np.ones((4, 1, 2), np.float32))
    m.double()
    with pytest.raises(RuntimeError, match="preceding forward"):
        m.backward(np.ones_like(out))


def test_optimizer_built_before_the_conversion_says_so():
    m = crnn.GRU(2, 3, seed=0)
    stale = crnn.optim.SGD(m.parameters(), lr=0.1)
    m.double()
    with pytest.raises(RuntimeError, match="step: parameter weight_ih_l0 was converted .* "
                                           "build the optimizer after converting"):
        stale.step()
    with pytest.raises(RuntimeError, match="zero_grad: parameter"):
        stale.zero_grad()
    opt = crnn.optim.SGD(m.parameters(), lr=0.1)
    out, _ = m(np.ones((4, 1, 2)))
    m.backward(np.ones_like(out))
    before = m.flat_parameters.copy()
    opt.step()
    np.testing.assert_array_equal(m.flat_parameters, before - 0.1 * m.flat_gradients)
