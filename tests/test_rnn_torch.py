"""crnn's layers and cells against torch.nn: forward, final states and
every gradient, over many random configurations of every kind."""
import numpy as np
import pytest
import torch

import crnn
from conftest import assert_close
from torch_oracle import KINDS, check_against_torch, random_state, torch_twin


def random_layer(kind, rng, dtype, seed):
    H = int(rng.integers(1, 31))
    kw = dict(num_layers=int(rng.integers(1, 4)), bias=bool(rng.integers(2)),
              batch_first=bool(rng.integers(2)), bidirectional=bool(rng.integers(2)),
              dtype=dtype, seed=seed)
    if kind == "RNN":
        kw["nonlinearity"] = str(rng.choice(["tanh", "relu"]))
    if kind == "LSTM" and H > 1 and rng.integers(2):
        kw["proj_size"] = int(rng.integers(1, H))
    return getattr(crnn, kind)(int(rng.integers(1, 31)), H, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(16))
def test_random_configurations(seed, kind, dtype):
    rng = np.random.default_rng([seed, KINDS.index(kind), dtype == np.float64])
    m = random_layer(kind, rng, dtype, seed)
    L, N = int(rng.integers(1, 13)), int(rng.integers(1, 9))
    shape = (N, L, m.input_size) if m.batch_first else (L, N, m.input_size)
    x = rng.standard_normal(shape).astype(dtype)
    hx = random_state(m, rng, N) if rng.integers(2) else None
    check_against_torch(m, x, hx, rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("h0_given", [False, True])
def test_unbatched_input(kind, batch_first, h0_given):
    rng = np.random.default_rng(7)
    kw = dict(proj_size=3) if kind == "LSTM" else {}
    m = getattr(crnn, kind)(4, 6, 2, bidirectional=True, batch_first=batch_first,
                            seed=3, dtype=np.float64, **kw)
    x = rng.standard_normal((5, 4))            # (L, H_in): batch_first does not apply
    hx = random_state(m, rng, None, batched=False) if h0_given else None
    out, _ = m(x, hx)
    assert out.shape == (5, 2 * (3 if kind == "LSTM" else 6))
    check_against_torch(m, x, hx, rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N,L", [(1, 9), (1, 1), (3, 1), (7, 2)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_degenerate_shapes(kind, N, L, batch_first):
    """Batch 1, one step and L < N take other BLAS paths (gemv, per-step
    input blocks); they must agree with torch too."""
    rng = np.random.default_rng(N * 10 + L)
    m = getattr(crnn, kind)(3, 5, 2, bidirectional=True, batch_first=batch_first, seed=1)
    x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3)).astype(np.float32)
    check_against_torch(m, x, random_state(m, rng, N), rng)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_projection_stacks(bidirectional, dtype):
    rng = np.random.default_rng(11)
    m = crnn.LSTM(7, 9, 3, proj_size=4, bidirectional=bidirectional, dtype=dtype, seed=5)
    assert m.weight_hr_l2.shape == (4, 9)
    assert m.weight_ih_l1.shape == (36, 4 * (2 if bidirectional else 1))
    x = rng.standard_normal((6, 3, 7)).astype(dtype)
    out, (hn, cn) = m(x)
    assert out.shape == (6, 3, 8 if bidirectional else 4)
    assert hn.shape[-1] == 4 and cn.shape[-1] == 9
    check_against_torch(m, x, random_state(m, rng, 3), rng)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch_matches_torch(kind):
    m = getattr(crnn, kind)(3, 4, 2, bidirectional=True, dtype=np.float64)
    out, state = m(np.zeros((5, 0, 3)))
    t_out, t_state = torch_twin(m)(torch.zeros(5, 0, 3, dtype=torch.float64))
    assert out.shape == tuple(t_out.shape)
    states = list(state) if kind == "LSTM" else [state]
    t_states = list(t_state) if kind == "LSTM" else [t_state]
    assert [s.shape for s in states] == [tuple(s.shape) for s in t_states]
    gx, gh0 = m.backward(np.zeros(out.shape))
    assert gx.shape == (5, 0, 3) and gh0 is None


@pytest.mark.parametrize("kind", KINDS)
def test_strided_and_foreign_inputs_give_the_same_numbers(kind):
    """Non-contiguous, negative-stride, Fortran-ordered, read-only, float64
    and list inputs all give the contiguous float32 result."""
    rng = np.random.default_rng(5)
    m = getattr(crnn, kind)(4, 7, 2, bidirectional=True, seed=2).eval()
    x = rng.standard_normal((6, 3, 4)).astype(np.float32)
    ref, ref_state = m(x)
    ro = x.copy()
    ro.flags.writeable = False
    wide = np.zeros((6, 3, 8), np.float32)
    wide[:, :, ::2] = x
    variants = [x[::-1][::-1], np.asfortranarray(x), ro, x.astype(np.float64),
                x.tolist(), wide[:, :, ::2], torch.from_numpy(x)]
    for v in variants:
        out, state = m(v)
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(np.asarray(state), np.asarray(ref_state))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("seed", range(6))
def test_cell_against_torch(seed, cls, dtype):
    rng = np.random.default_rng([seed, len(cls)])
    I, H, N = (int(v) for v in rng.integers(1, 20, 3))
    kw = dict(nonlinearity=["tanh", "relu"][seed % 2]) if cls == "RNNCell" else {}
    cell = getattr(crnn, cls)(I, H, bias=bool(seed % 3), dtype=dtype, seed=seed, **kw)
    batched = seed % 4 != 3
    x = rng.standard_normal((N, I) if batched else (I,)).astype(dtype)
    hx = random_state(cell, rng, N, batched) if seed % 5 else None
    check_against_torch(cell, x, hx, rng)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_state_dict_loads_by_name(kind):
    kw = dict(proj_size=5) if kind == "LSTM" else {}
    t = getattr(torch.nn, kind)(5, 8, 3, bidirectional=True, **kw)
    m = getattr(crnn, kind)(5, 8, 3, bidirectional=True, **kw)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(np.float32)
    out, _ = m(x)
    out_t, _ = t(torch.from_numpy(x))
    assert_close(out, out_t.detach().numpy())
    m.load_state_dict(t.state_dict())         # torch tensors themselves load too
    assert_close(m(x)[0], out_t.detach().numpy())


def test_repr_matches_torch():
    cases = [("RNN", (10, 20), {}), ("RNN", (10, 20, 2), dict(dropout=0.5, bidirectional=True)),
             ("RNN", (3, 4), dict(bias=False, batch_first=True, nonlinearity="relu")),
             ("LSTM", (3, 4, 2), dict(proj_size=2)), ("GRU", (3, 4), dict(bidirectional=True))]
    for kind, args, kw in cases:
        assert repr(getattr(crnn, kind)(*args, **kw)) == repr(getattr(torch.nn, kind)(*args, **kw))
    for cls, kw in [("RNNCell", dict(bias=False, nonlinearity="relu")), ("LSTMCell", {}),
                    ("GRUCell", dict(bias=False))]:
        assert repr(getattr(crnn, cls)(3, 4, **kw)) == repr(getattr(torch.nn, cls)(3, 4, **kw))


@pytest.mark.parametrize("kind", KINDS)
def test_parameter_gradients_accumulate_until_zero_grad(kind):
    rng = np.random.default_rng(1)
    m = getattr(crnn, kind)(3, 4, 2, dtype=np.float64)
    x = rng.standard_normal((5, 2, 3))
    out, _ = m(x)
    g = rng.standard_normal(out.shape)
    m.backward(g)
    once = m.flat_gradients.copy()
    assert np.abs(once).sum() > 0
    m(x)
    m.backward(g)
    np.testing.assert_allclose(m.flat_gradients, 2 * once, rtol=1e-12)
    m.zero_grad()
    assert not m.flat_gradients.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("H", [5, 64, 70])
def test_long_batch_one_sequences(kind, H, dtype):
    """Batch 1 over many steps runs the recurrent products in the core's own
    loops over repacked weights (also the tails of packed batches); widths
    around the panel width of 64 included."""
    rng = np.random.default_rng(H)
    kw = dict(proj_size=H - 2) if kind == "LSTM" else {}
    m = getattr(crnn, kind)(7, H, 2, bidirectional=True, dtype=dtype, seed=H, **kw)
    x = rng.standard_normal((40, 1, 7)).astype(dtype)
    check_against_torch(m, x, random_state(m, rng, 1), rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N,L,batch_first", [(1, 2100, False), (3, 700, True), (3, 700, False),
                                             (400, 5, True), (1100, 2, False)])
def test_inference_in_chunks_matches_torch(kind, N, L, batch_first):
    """Inference projects the input a chunk of steps at a time (a few hundred
    rows); sequences longer than a chunk, batches wider than one, in both
    layouts and both directions, give torch's outputs and final states."""
    rng = np.random.default_rng(N * L)
    kw = dict(proj_size=3) if kind == "LSTM" else {}
    m = getattr(crnn, kind)(4, 5, 2, bidirectional=True, batch_first=batch_first,
                            dtype=np.float64, seed=N, **kw).eval()
    x = rng.standard_normal((N, L, 4) if batch_first else (L, N, 4))
    hx = random_state(m, rng, N)
    out, state = m(x, hx)
    with torch.no_grad():
        parts = [torch.from_numpy(h) for h in (hx if isinstance(hx, tuple) else (hx,))]
        out_t, state_t = torch_twin(m)(torch.from_numpy(x),
                                       tuple(parts) if kind == "LSTM" else parts[0])
    assert_close(out, out_t.numpy(), "output")
    for a, b in zip(state if kind == "LSTM" else (state,),
                    state_t if kind == "LSTM" else (state_t,)):
        assert_close(a, b.numpy(), "final state")
