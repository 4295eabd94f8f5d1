"""The Python API: parameters, state dicts, modes, seeding, dropout, and
every bad input refused with a message naming the argument."""
import math

import numpy as np
import pytest

import crnn
from crnn import _kernels


# -- parameters and state dicts ---------------------------------------------
def test_parameter_names_shapes_and_flat_buffers():
    rnn = crnn.RNN(3, 4, 2, bidirectional=True)
    shapes = {n: p.shape for n, p in rnn.named_parameters()}
    assert shapes["weight_ih_l0"] == (4, 3)
    assert shapes["weight_ih_l1_reverse"] == (4, 8)
    assert shapes["weight_hh_l1"] == (4, 4)
    assert shapes["bias_hh_l0_reverse"] == (4,)
    assert len(shapes) == 16
    # views into one flat buffer each, in order and without gaps
    assert sum(math.prod(s) for s in shapes.values()) == rnn.flat_parameters.size
    for p in rnn.parameters():
        assert np.shares_memory(p.data, rnn.flat_parameters)
        assert np.shares_memory(p.grad, rnn.flat_gradients)
    rnn.flat_parameters[:] = 0.5
    assert (rnn.weight_hh_l1.data == 0.5).all()
    # attribute access and assignment
    rnn.weight_ih_l0 = np.ones((4, 3))
    assert (rnn.state_dict()["weight_ih_l0"] == 1).all()
    with pytest.raises(ValueError, match="weight_ih_l0.*\\(4, 3\\).*\\(3, 4\\)"):
        rnn.weight_ih_l0 = np.ones((3, 4))


def test_no_bias_has_no_bias_parameters():
    assert [n for n, _ in crnn.RNN(2, 3, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]


def test_initialisation_is_uniform_in_bounds_and_seedable():
    rnn = crnn.RNN(50, 100, 2, seed=0)
    k = 1 / math.sqrt(100)
    flat = rnn.flat_parameters
    assert flat.min() >= -k and flat.max() <= k
    assert abs(flat.mean()) < 0.01 * k * 10 and flat.std() > 0.5 * k
    np.testing.assert_array_equal(flat, crnn.RNN(50, 100, 2, seed=0).flat_parameters)
    assert not np.array_equal(flat, crnn.RNN(50, 100, 2, seed=1).flat_parameters)
    crnn.manual_seed(3)
    a = crnn.RNN(2, 3).flat_parameters.copy()
    crnn.manual_seed(3)
    np.testing.assert_array_equal(a, crnn.RNN(2, 3).flat_parameters)
    g = np.random.default_rng(9)
    np.testing.assert_array_equal(crnn.RNN(2, 3, generator=g).flat_parameters,
                                  crnn.RNN(2, 3, seed=9).flat_parameters)


def test_state_dict_round_trip_and_float64():
    a = crnn.RNN(3, 4, 2, dtype=np.float64, seed=1)
    b = crnn.RNN(3, 4, 2, dtype=np.float64, seed=2)
    sd = a.state_dict()
    assert all(v.dtype == np.float64 for v in sd.values())
    b.load_state_dict(sd)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    sd["weight_hh_l0"][:] = 7  # a copy, not a view
    assert not (a.weight_hh_l0.data == 7).any()


def test_state_dict_errors_name_the_keys():
    rnn = crnn.RNN(3, 4, 2)
    sd = rnn.state_dict()
    missing = dict(sd)
    del missing["bias_hh_l1"]
    with pytest.raises(KeyError, match="missing keys \\['bias_hh_l1'\\]"):
        rnn.load_state_dict(missing)
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        rnn.load_state_dict({**sd, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="weight_ih_l1: expected shape \\(4, 4\\), got \\(4, 3\\)"):
        rnn.load_state_dict({**sd, "weight_ih_l1": np.zeros((4, 3))})
    before = rnn.flat_parameters.copy()
    with pytest.raises(ValueError):
        rnn.load_state_dict({**{k: v + 1 for k, v in sd.items()}, "weight_hh_l1": np.zeros(2)})
    np.testing.assert_array_equal(rnn.flat_parameters, before)  # nothing half-loaded
    res = rnn.load_state_dict(missing, strict=False)
    assert res.missing_keys == ["bias_hh_l1"] and res.unexpected_keys == []
    with pytest.raises(TypeError, match="state_dict"):
        rnn.load_state_dict([1, 2])


# -- modes, dropout -----------------------------------------------------------
def test_eval_ignores_dropout_and_keeps_nothing():
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    a = crnn.RNN(3, 4, 3, dropout=0.5, seed=0).eval()
    b = crnn.RNN(3, 4, 3, seed=0).eval()
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    with pytest.raises(RuntimeError, match="backward.*training"):
        a.backward(np.zeros((5, 2, 4)))


def test_dropout_masks_scale_and_reproduce():
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    rnn = crnn.RNN(3, 4, 2, dropout=0.5, dtype=np.float64, seed=0)
    out_eval = rnn.eval()(x)[0]
    rnn.train()
    crnn_out = [rnn(x)[0] for _ in range(2)]
    assert not np.array_equal(crnn_out[0], out_eval)
    assert not np.array_equal(crnn_out[0], crnn_out[1])  # fresh masks each call
    r1 = crnn.RNN(3, 4, 2, dropout=0.5, dtype=np.float64, seed=0)
    r2 = crnn.RNN(3, 4, 2, dropout=0.5, dtype=np.float64, seed=0)
    np.testing.assert_array_equal(r1(x)[0], r2(x)[0])      # reproducible by seed
    mask = rnn._dropout_mask((400, 50, 8))
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert abs((mask == 0).mean() - 0.5) < 0.01


def test_dropout_one_zeroes_the_next_layers_input():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 3))
    rnn = crnn.RNN(3, 4, 2, dropout=1.0, dtype=np.float64)
    top = crnn.RNN(4, 4, 1, dtype=np.float64)
    top.load_state_dict({k.replace("l1", "l0"): v for k, v in rnn.state_dict().items()
                         if k.endswith("l1")})
    np.testing.assert_allclose(rnn(x)[0], top(np.zeros((6, 2, 4)))[0], rtol=1e-14)


def test_dropout_warns_for_one_layer():
    with pytest.warns(UserWarning, match="num_layers"):
        crnn.RNN(3, 4, 1, dropout=0.2)


def test_backward_consumes_the_forward():
    rnn = crnn.RNN(3, 4)
    out, _ = rnn(np.zeros((2, 1, 3)))
    rnn.backward(np.ones(out.shape))
    with pytest.raises(RuntimeError, match="backward"):
        rnn.backward(np.ones(out.shape))
    cell = crnn.RNNCell(3, 4)
    with pytest.raises(RuntimeError, match="backward"):
        cell.backward(np.ones(4))


def test_training_forward_keeps_its_own_copy_of_the_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 3))
    a = crnn.RNN(3, 4, dtype=np.float64, seed=0)
    b = crnn.RNN(3, 4, dtype=np.float64, seed=0)
    g = rng.standard_normal((4, 2, 4))
    a(x)
    x_copy = x.copy()
    x[:] = 0                                   # the caller reuses their buffer
    a.backward(g)
    b(x_copy)
    b.backward(g)
    np.testing.assert_array_equal(a.flat_gradients, b.flat_gradients)


# -- bad input ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(input_size=0, hidden_size=4), ValueError, "input_size.*greater than zero.*0"),
    (dict(input_size=3, hidden_size=-1), ValueError, "hidden_size.*greater than zero.*-1"),
    (dict(input_size=3, hidden_size=4.0), TypeError, "hidden_size.*int.*float"),
    (dict(input_size=3, hidden_size=4, num_layers=0), ValueError, "num_layers"),
    (dict(input_size=3, hidden_size=4, nonlinearity="sigmoid"), ValueError,
     "nonlinearity.*'tanh', 'relu'.*'sigmoid'"),
    (dict(input_size=3, hidden_size=4, dropout=1.5), ValueError, "dropout.*\\[0, 1\\].*1.5"),
    (dict(input_size=3, hidden_size=4, dropout=-0.1), ValueError, "dropout"),
    (dict(input_size=3, hidden_size=4, dtype=np.float16), TypeError, "dtype.*float16"),
    (dict(input_size=3, hidden_size=4, dtype=np.int32), TypeError, "dtype"),
])
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        crnn.RNN(**kwargs)


def test_bad_cell_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        crnn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="input_size"):
        crnn.RNNCell(0, 4)


@pytest.mark.parametrize("x,h0,exc,match", [
    (np.zeros(3), None, ValueError, "input: expected 2-D .* or 3-D .* got 1-D"),
    (np.zeros((2, 2, 2, 3)), None, ValueError, "input: expected 2-D .* got 4-D"),
    (np.zeros((5, 2, 4)), None, ValueError, "input: expected 3 features.*\\(5, 2, 4\\)"),
    (np.zeros((0, 2, 3)), None, ValueError, "input: expected a sequence length greater than 0"),
    (np.zeros((5, 2, 3)), np.zeros((2, 3, 4)), ValueError,
     "h_0: expected shape \\(2, 2, 4\\), got \\(2, 3, 4\\)"),
    (np.zeros((5, 2, 3)), np.zeros((1, 2, 4)), ValueError, "h_0: expected shape \\(2, 2, 4\\)"),
    (np.zeros((5, 2, 3)), np.zeros((2, 4)), ValueError, "h_0: for batched 3-D input.*2-D"),
    (np.zeros((5, 3)), np.zeros((2, 1, 4)), ValueError, "h_0: for unbatched 2-D input.*3-D"),
    (np.zeros((5, 2, 3), complex), None, TypeError, "input: .*real numbers.*complex"),
    (np.zeros((5, 2, 3), bool), None, TypeError, "input: .*real numbers.*bool"),
    ([["a", "b", "c"]], None, TypeError, "input: .*real numbers"),
    ([[1, 2, 3], [1, 2]], None, TypeError, "input: .*real numbers"),
    (np.zeros((5, 2, 3)), "h", TypeError, "h_0: .*real numbers"),
])
def test_bad_forward_input(x, h0, exc, match):
    rnn = crnn.RNN(3, 4, 2)
    with pytest.raises(exc, match=match):
        rnn(x, h0)


def test_integer_input_converts():
    rnn = crnn.RNN(3, 4).eval()
    x = np.arange(6).reshape(2, 1, 3)
    np.testing.assert_array_equal(rnn(x)[0], rnn(x.astype(np.float32))[0])


def test_bad_backward_gradients():
    rnn = crnn.RNN(3, 4, 2)
    out, hn = rnn(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="grad_output: expected shape \\(5, 2, 4\\).*got \\(5, 2, 3\\)"):
        rnn.backward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="grad_h_n: .*\\(2, 2, 4\\).*\\(2, 4\\)"):
        rnn.backward(np.zeros(out.shape), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="grad_output"):
        rnn.backward(np.zeros(out.shape, complex))
    # a refused gradient does not consume the forward
    gx, _ = rnn.backward(np.zeros(out.shape))
    assert gx.shape == (5, 2, 3)


def test_bad_cell_input():
    cell = crnn.RNNCell(3, 4)
    with pytest.raises(ValueError, match="input: expected 1-D .* or 2-D"):
        cell(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="input: expected 3 features"):
        cell(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="hx: expected shape \\(2, 4\\).*got \\(3, 4\\)"):
        cell(np.zeros((2, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="hx: expected shape \\(4,\\)"):
        cell(np.zeros(3), np.zeros((1, 4)))
    h = cell(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="grad_h: expected shape \\(2, 4\\)"):
        cell.backward(np.zeros((4,)))
    assert h.shape == (2, 4)


def test_generator_and_seed_arguments():
    with pytest.raises(ValueError, match="seed or generator"):
        crnn.RNN(2, 3, seed=1, generator=np.random.default_rng())
    with pytest.raises(TypeError, match="generator"):
        crnn.RNN(2, 3, generator=3)


# -- LSTM and GRU specifics -----------------------------------------------------
@pytest.mark.parametrize("kind,kwargs,exc,match", [
    ("LSTM", dict(proj_size=-1), ValueError, "proj_size: .*positive.*-1"),
    ("LSTM", dict(proj_size=4), ValueError, "proj_size: .*smaller than hidden_size=4, got 4"),
    ("LSTM", dict(proj_size=9), ValueError, "proj_size: .*smaller than hidden_size=4, got 9"),
    ("LSTM", dict(proj_size=1.5), ValueError, "proj_size"),
    ("GRU", dict(dropout=2), ValueError, "dropout"),
])
def test_bad_gated_constructor_arguments(kind, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(crnn, kind)(3, 4, **kwargs)


def test_proj_size_is_lstm_only():
    with pytest.raises(ValueError, match="proj_size: only LSTM.*RNN_TANH"):
        crnn.RNNBase("RNN_TANH", 3, 4, proj_size=2)
    with pytest.raises(TypeError):
        crnn.GRU(3, 4, proj_size=2)


@pytest.mark.parametrize("hx,exc,match", [
    (np.zeros((1, 2, 4)), TypeError, "hx: expected a tuple \\(h, c\\) for LSTM, got ndarray"),
    ((np.zeros((1, 2, 4)),), TypeError, "hx: expected a tuple \\(h, c\\)"),
    ((np.zeros((1, 2, 4)), None), TypeError, "hx: expected both h_0 and c_0"),
    ((np.zeros((1, 2, 4)), np.zeros((1, 2, 3))), ValueError,
     "c_0: expected shape \\(1, 2, 4\\), got \\(1, 2, 3\\)"),
    ((np.zeros((1, 3, 4)), np.zeros((1, 2, 4))), ValueError,
     "h_0: expected shape \\(1, 2, 4\\), got \\(1, 3, 4\\)"),
])
def test_bad_lstm_state(hx, exc, match):
    with pytest.raises(exc, match=match):
        crnn.LSTM(3, 4)(np.zeros((5, 2, 3)), hx)


def test_lstm_projection_state_shapes():
    m = crnn.LSTM(3, 6, 2, proj_size=2)
    out, (h, c) = m(np.zeros((5, 4, 3)), (np.zeros((2, 4, 2)), np.zeros((2, 4, 6))))
    assert out.shape == (5, 4, 2) and h.shape == (2, 4, 2) and c.shape == (2, 4, 6)
    with pytest.raises(ValueError, match="h_0: expected shape \\(2, 4, 2\\), got \\(2, 4, 6\\)"):
        m(np.zeros((5, 4, 3)), (np.zeros((2, 4, 6)), np.zeros((2, 4, 6))))
    with pytest.raises(ValueError, match="grad_c_n: .*\\(2, 4, 6\\)"):
        m.backward(np.zeros(out.shape), (None, np.zeros((2, 4, 2))))
    gx, (gh0, gc0) = m.backward(np.zeros(out.shape), (None, np.ones((2, 4, 6))))
    assert gx.shape == (5, 4, 3) and gh0.shape == (2, 4, 2) and gc0.shape == (2, 4, 6)
    assert np.abs(gc0).sum() > 0


def test_bad_lstm_cell_state():
    cell = crnn.LSTMCell(3, 4)
    with pytest.raises(TypeError, match="hx: expected a tuple \\(h, c\\)"):
        cell(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="cx: expected shape \\(2, 4\\)"):
        cell(np.zeros((2, 3)), (np.zeros((2, 4)), np.zeros((3, 4))))
    h, c = cell(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="grad_c: expected shape \\(2, 4\\)"):
        cell.backward((np.zeros((2, 4)), np.zeros(4)))
    gx, ghx = cell.backward((np.ones((2, 4)), None))
    assert gx.shape == (2, 3) and ghx is None


def test_gru_cell_unbatched_and_bad_state():
    cell = crnn.GRUCell(3, 5, dtype=np.float64)
    h = cell(np.zeros(3), np.zeros(5))
    assert h.shape == (5,)
    gx, gh = cell.backward(np.ones(5))
    assert gx.shape == (3,) and gh.shape == (5,)
    with pytest.raises(ValueError, match="hx: expected shape \\(5,\\)"):
        cell(np.zeros(3), np.zeros((1, 5)))


# -- found in review ------------------------------------------------------------
def test_assigning_data_and_grad_updates_the_module():
    rnn = crnn.RNN(3, 4).eval()
    x = np.ones((2, 1, 3))
    for _, p in rnn.named_parameters():
        p.data = p.data * 0
    assert not rnn.flat_parameters.any()
    assert not rnn(x)[0].any()
    p = rnn.weight_hh_l0
    p.grad = np.ones((4, 4))
    assert rnn.flat_gradients.sum() == 16
    p.grad = None
    assert not rnn.flat_gradients.any()
    with pytest.raises(ValueError, match="weight_hh_l0: expected shape \\(4, 4\\), got \\(4,\\)"):
        p.data = np.zeros(4)


def test_state_dict_errors_are_runtime_errors_too():
    rnn = crnn.RNN(3, 4)
    with pytest.raises(RuntimeError, match="missing keys"):
        rnn.load_state_dict({})
    with pytest.raises(RuntimeError, match="weight_ih_l0"):
        rnn.load_state_dict({**rnn.state_dict(), "weight_ih_l0": np.zeros(2)})


def test_packed_sequence_replace_is_checked():
    from crnn.utils.rnn import pack_padded_sequence
    p = pack_padded_sequence(np.zeros((4, 2, 3)), [4, 2])
    with pytest.raises(ValueError, match="sorted_indices: expected a permutation"):
        p._replace(sorted_indices=np.array([0, 0]))


@pytest.mark.parametrize("cell", [_kernels.RNN_TANH, _kernels.LSTM, _kernels.GRU])
def test_inference_workspace_does_not_grow_with_the_sequence(cell):
    """Inference works through the input a chunk of steps at a time: its
    workspace depends on the batch and the widths, not on the length."""
    H, N = 64, 8
    short = _kernels.sizes(cell, 32, H, 0, 1000, N)[1]
    for L in (2000, 100000):
        assert _kernels.sizes(cell, 32, H, 0, L, N)[1] == short
    # a chunk of 1024 rows of gates, a few states of the batch, the
    # repacked W_hh and W_ih
    assert short <= 1024 * 4 * H + 6 * N * H + 4 * H * H + 4 * H * 32
    # training keeps every row
    assert _kernels.sizes(cell, 32, H, 0, 1000, N)[0] > _kernels.sizes(cell, 32, H, 0, 100, N)[0]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layout", ["seq", "batch_first", "packed"])
def test_inference_in_chunks_equals_the_training_forward(kind, layout):
    """Inference projects a chunk of steps at a time, training all at once:
    over sequences several chunks long the two agree (no torch needed, so
    the sanitizer run covers the chunk walk)."""
    rng = np.random.default_rng(5)
    m = getattr(crnn, kind)(3, 4, bidirectional=True, batch_first=layout == "batch_first",
                            dtype=np.float64, seed=1)
    x = rng.standard_normal((3, 900, 3) if layout == "batch_first" else (900, 3, 3))
    if layout == "packed":
        x = crnn.utils.rnn.pack_padded_sequence(x, [900, 411, 700], enforce_sorted=False)
    m.train()
    out_train, state_train = m(x)
    m.eval()
    out_eval, state_eval = m(x)
    if layout == "packed":
        out_train, out_eval = out_train.data, out_eval.data
    np.testing.assert_allclose(out_eval, out_train, rtol=1e-12, atol=1e-12)
    if kind != "LSTM":
        state_eval, state_train = (state_eval,), (state_train,)
    for a, b in zip(state_eval, state_train):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_training_reserves_keep_each_row_once():
    """What a training forward keeps for backward, per layer-direction, in
    elements (R = L * N rows): Elman keeps every h once (the h_{t-1} rows
    and the last h of each sequence), as torch's autograd does; GRU keeps
    h_{t-1}, 3 gates and W_hn h + b_hn; LSTM h_{t-1}, 4 gates and c_{t-1}."""
    L, N, H, R = 30, 4, 8, 120
    assert _kernels.sizes(_kernels.RNN_TANH, 3, H, 0, L, N)[0] == (R + N) * H
    assert _kernels.sizes(_kernels.GRU, 3, H, 0, L, N)[0] == 5 * R * H
    assert _kernels.sizes(_kernels.LSTM, 3, H, 0, L, N)[0] == 6 * R * H


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_inference_sees_every_change_of_the_recurrent_weights(kind):
    """Inference keeps the recurrent weights packed between calls; whatever
    changes them (a write into .data, even of one last element, assigning
    .data, load_state_dict, an optimizer step) shows in the next call."""
    kw = dict(proj_size=3) if kind == "LSTM" else {}
    m = getattr(crnn, kind)(4, 6, 2, bidirectional=True, dtype=np.float64, seed=0, **kw).eval()
    x = np.random.default_rng(0).standard_normal((7, 2, 4))

    def fresh():
        twin = getattr(crnn, kind)(4, 6, 2, bidirectional=True, dtype=np.float64, **kw).eval()
        twin.load_state_dict(m.state_dict())
        out = twin(x)[0]
        np.testing.assert_array_equal(m(x)[0], out)
        return out

    before = fresh()
    m.weight_hh_l1_reverse.data[-1, -1] += 0.5
    after = fresh()
    assert not np.array_equal(before, after)
    m.weight_hh_l0.data = m.weight_hh_l0.data * 0.5
    fresh()
    m.weight_ih_l1.data[-1, -1] -= 0.5
    fresh()
    if kind == "LSTM":
        m.weight_hr_l1.data[0, 0] -= 1.0
        fresh()
    sd = m.state_dict()
    sd["weight_hh_l0"] = sd["weight_hh_l0"] + 0.1
    m.load_state_dict(sd)
    fresh()
    m.train()
    out, _ = m(x)
    m.backward(np.ones_like(out))
    crnn.optim.SGD(m.parameters(), lr=0.1).step()
    m.eval()
    fresh()
