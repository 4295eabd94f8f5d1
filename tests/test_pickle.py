"""Modules, losses and optimizers pickle (Dask ships them so): weights,
mode and settings kept, parameters still views of the flat buffers; and
what Dask hands over, unaligned buffers, is taken."""
import pickle

import numpy as np
import pytest

import crnn

MODULES = [
    lambda: crnn.RNN(3, 5, 2, nonlinearity="relu", bidirectional=True, seed=1),
    lambda: crnn.LSTM(3, 6, 2, proj_size=2, batch_first=True, seed=2),
    lambda: crnn.GRU(3, 5, dtype=np.float64, seed=3),
    lambda: crnn.RNNCell(3, 5, nonlinearity="relu", seed=4),
    lambda: crnn.LSTMCell(3, 5, seed=5),
    lambda: crnn.GRUCell(3, 5, bias=False, seed=6),
    lambda: crnn.Linear(3, 4, seed=7),
]


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def inputs(m):
    rng = np.random.default_rng(0)
    shape = (4, 2, 3) if isinstance(m, crnn.RNNBase) else (2, 3)
    return rng.standard_normal(shape)


def first(out):
    while isinstance(out, tuple):
        out = out[0]
    return out


@pytest.mark.parametrize("make", MODULES)
@pytest.mark.parametrize("training", [True, False])
def test_module_roundtrip_keeps_weights_mode_settings(make, training):
    m = make().train(training)
    x = inputs(m)
    if not training:
        m(x)   # an eval call fills the repacked-weights cache (pickled empty)
    c = roundtrip(m)
    assert type(c) is type(m) and repr(c) == repr(m) and c.training == training
    assert c.dtype == m.dtype
    assert {k: v.tolist() for k, v in c.state_dict().items()} == \
        {k: v.tolist() for k, v in m.state_dict().items()}
    np.testing.assert_array_equal(first(c(x)), first(m(x)))


@pytest.mark.parametrize("make", MODULES)
def test_unpickled_parameters_are_views_of_its_buffers(make):
    c = roundtrip(make())
    for _, p in c.named_parameters():
        assert p.data.base is c.flat_parameters and p.grad.base is c.flat_gradients
    c.flat_parameters[...] = 0.5       # the views and the kernels see it
    assert all((p.data == 0.5).all() for p in c.parameters())
    out = first(c(inputs(c)))
    c.flat_parameters[...] = 0.25
    assert not np.array_equal(first(c(inputs(c))), out)


def test_unpickled_module_trains_as_the_original():
    m = crnn.GRU(3, 5, batch_first=True, seed=0)
    c = roundtrip(m)
    x = inputs(m)
    for mod in (m, c):
        out, _ = mod(x)
        mod.backward(np.ones_like(out))
    np.testing.assert_array_equal(c.flat_gradients, m.flat_gradients)
    assert np.abs(c.flat_gradients).sum() > 0   # backward wrote into c's own buffer


def test_pending_forward_is_not_pickled():
    m = crnn.LSTM(3, 4)
    out, _ = m(inputs(m))
    c = roundtrip(m)
    with pytest.raises(RuntimeError, match="preceding forward"):
        c.backward(np.ones_like(out))
    m.backward(np.ones_like(out))   # the original's still pending


@pytest.mark.parametrize("opt_cls", [crnn.optim.SGD, crnn.optim.Adam, crnn.optim.AdamW])
def test_optimizer_pickled_with_its_modules_updates_them(opt_cls):
    gru, head = crnn.GRU(3, 5, seed=0), crnn.Linear(5, 1, seed=1)
    opt = opt_cls(list(gru.parameters()) + [head.weight], lr=0.1)   # head.bias left out
    gru.flat_gradients[...] = 1.0
    head.flat_gradients[...] = 1.0
    opt.step()                                  # state (Adam's moments) to carry
    gru2, head2, opt2 = roundtrip((gru, head, opt))
    opt.step()
    opt2.step()
    np.testing.assert_array_equal(gru2.flat_parameters, gru.flat_parameters)
    np.testing.assert_array_equal(head2.flat_parameters, head.flat_parameters)
    assert head2.bias.data.tolist() == head.bias.data.tolist()


@pytest.mark.parametrize("loss", [crnn.MSELoss(reduction="sum"),
                                  crnn.CrossEntropyLoss(ignore_index=2)])
def test_losses_roundtrip(loss):
    c = roundtrip(loss)
    assert type(c) is type(loss) and c.reduction == loss.reduction
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = np.array([0, 1, 2, 1]) if isinstance(loss, crnn.CrossEntropyLoss) else x[::-1]
    assert c(x, t) == loss(x, t)
    np.testing.assert_array_equal(c.backward(), loss.backward())


def misaligned_roundtrip(obj):
    """Protocol 5 with the arrays out of band, each buffer handed back at an
    odd address, as a message received over a network may hold them."""
    buffers = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    odd = []
    for b in buffers:
        raw = bytearray(len(b.raw()) + 1)
        raw[1:] = b.raw()
        odd.append(memoryview(raw)[1:])
    return pickle.loads(data, buffers=odd)


@pytest.mark.parametrize("make", MODULES)
def test_out_of_band_misaligned_buffers_give_aligned_working_modules(make):
    m = make().eval()
    x = inputs(m)
    want = first(m(x))                 # also fills an RNN's repacked-weights cache
    gru = crnn.GRU(3, 5, seed=0)
    opt = crnn.optim.Adam(gru.parameters())
    c, gru2, opt2 = misaligned_roundtrip((m, gru, opt))
    for arr in (c.flat_parameters, c.flat_gradients, *(p.data for p in c.parameters())):
        assert arr.flags.aligned and arr.flags.writeable
    assert c.flat_parameters.base is None and \
        all(p.data.base is c.flat_parameters for p in c.parameters())
    np.testing.assert_array_equal(first(c(x)), want)
    assert opt2._pairs[0][0] is gru2.flat_parameters   # still shared after the copy


def test_unaligned_input_is_taken():
    """A chunk that arrives over the network may sit at an odd address."""
    raw = bytearray(4 * 5 * 2 * 3 + 1)
    x = np.frombuffer(memoryview(raw)[1:], np.float32).reshape(5, 2, 3)
    x[...] = np.random.default_rng(0).standard_normal(x.shape)
    assert not x.flags.aligned
    for m in (crnn.GRU(3, 4, seed=0).eval(), crnn.LSTMCell(3, 4, seed=0)):
        xs = x if isinstance(m, crnn.RNNBase) else x[0]
        np.testing.assert_array_equal(first(m(xs)), first(m(xs.copy())))


def test_pickles_of_an_earlier_layout_load():
    """A pickle written by crnn 0.1.0 before the pickling machinery moved
    (an LSTM, a GRUCell and an SGD over both; tests/golden): it loads as
    working modules whose parameters are views of their flat buffers and an
    optimizer that updates them."""
    from pathlib import Path
    path = Path(__file__).parent / "golden" / "pickle_0.1.0.pkl"
    with open(path, "rb") as f:
        m, c, opt = pickle.load(f)
    for mod, fresh in ((m, crnn.LSTM(3, 4, 2, seed=0)), (c, crnn.GRUCell(3, 5, seed=1))):
        assert {k: v.tolist() for k, v in mod.state_dict().items()} == \
            {k: v.tolist() for k, v in fresh.state_dict().items()}
        for _, p in mod.named_parameters():
            assert p.data.base is mod.flat_parameters
    before = m.weight_ih_l0.data.copy()
    m.flat_gradients[...] = 1.0
    c.flat_gradients[...] = 1.0
    opt.step()
    np.testing.assert_allclose(m.weight_ih_l0.data, before - np.float32(0.1))
