"""crnn.quantize: int8 and bfloat16 weights for inference, on every
instruction set. The products are checked exactly against NumPy references
of the scheme (crnn.h); accuracy against float32 is in
test_quantize_torch.py."""
import contextlib
import pickle

import numpy as np
import pytest

import crnn
from crnn import _kernels
from crnn._qformat import bfloat16_bits as _bfloat16_bits, int8_rows as _int8_rows
from crnn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ISAS = _kernels.isa_supported()
LAYERS = [("RNN", {}), ("RNN", dict(nonlinearity="relu")), ("LSTM", {}),
          ("LSTM", dict(proj_size=7)), ("GRU", {}),
          ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
          ("GRU", dict(num_layers=2, bias=False)),
          ("RNN", dict(bidirectional=True))]
CELLS = [("RNNCell", {}), ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", dict(bias=False))]


@contextlib.contextmanager
def isa(name):
    before = _kernels.isa_active()
    _kernels.select_isa(name)
    try:
        yield
    finally:
        _kernels.select_isa(before)


def levels():
    """Input levels each side of zero of the active int8 products."""
    active = _kernels.isa_active()
    return 127 if active in ("generic", "avx512vnni") else 63


def dequantized(module, q):
    """A float32 module of q's kind whose weights are q's, widened."""
    f = type(module)(**module_args(module)).eval()
    sd = q.state_dict()
    full = {}
    for k, v in sd.items():
        if k.endswith("_scale"):
            continue
        if v.dtype == np.int8:
            full[k] = v.astype(np.float32) * sd[f"{k}_scale"][:, None]
        elif v.dtype == np.uint16:
            full[k] = (v.astype(np.uint32) << 16).view(np.float32)
        else:
            full[k] = v
    f.load_state_dict(full)
    return f


def module_args(m):
    args = dict(input_size=m.input_size, hidden_size=m.hidden_size, bias=m.bias)
    if isinstance(m, crnn.RNNBase):
        args.update(num_layers=m.num_layers, batch_first=m.batch_first,
                    bidirectional=m.bidirectional)
        if isinstance(m, crnn.LSTM):
            args["proj_size"] = m.proj_size
    if isinstance(m, (crnn.RNN, crnn.RNNCell)):
        args["nonlinearity"] = m.nonlinearity
    return args


def make(kind, kw, I=13, H=21, seed=3):
    return getattr(crnn, kind)(I, H, **kw, seed=seed).eval()


def flat(result):
    """Every array of a forward's result, in order."""
    if isinstance(result, np.ndarray):
        return [result]
    if hasattr(result, "data") and hasattr(result, "batch_sizes"):
        return [result.data]
    return [a for r in result for a in flat(r)]


# -- the scheme ---------------------------------------------------------------
def test_int8_rows_are_symmetric_per_row_and_bfloat16_rounds_to_nearest_even():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [3.0, 1.5, -0.01]], np.float32)
    q, s = _int8_rows(w)
    assert q.dtype == np.int8 and s.dtype == np.float32
    np.testing.assert_array_equal(q[0], [64, -127, 32])
    np.testing.assert_array_equal(q[1], [0, 0, 0])
    assert s[1] == 1.0 and s[0] == np.float32(1 / 127)
    assert np.abs(q).max() == 127
    bits = np.array([0x3F808000, 0x3F818000, 0x3F80FFFF, 0xBF800001], np.uint32)
    got = _bfloat16_bits(bits.view(np.float32))
    np.testing.assert_array_equal(got, [0x3F80, 0x3F82, 0x3F81, 0xBF80])


# -- bfloat16: the float forward over the widened weights ----------------------
@pytest.mark.parametrize("name", ISAS)
@pytest.mark.parametrize("kind,kw", LAYERS + CELLS)
def test_bfloat16_is_the_float_forward_of_its_weights(kind, kw, name):
    rng = np.random.default_rng(0)
    m = make(kind, kw)
    q = crnn.quantize(m, "bfloat16")
    f = dequantized(m, q)
    cell = isinstance(m, crnn.RNNCellBase)
    shape = (5, 13) if cell else ((4, 9, 13) if getattr(m, "batch_first", False) else (9, 4, 13))
    x = rng.standard_normal(shape).astype(np.float32)
    with isa(name):
        for a, b in zip(flat(q(x)), flat(f(x))):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


# -- int8: one step against a NumPy reference of the scheme ------------------------
def q8_product(w, scale, v):
    """W v as the int8 kernels compute it (crnn.h): v quantized per row in
    float32, the sum exact, scaled back."""
    Q = levels()
    v = v.astype(np.float32)
    amax = np.abs(v).max(axis=-1, keepdims=True)
    s = amax / np.float32(Q)
    safe = np.where(s > 0, s, np.float32(1))
    vq = np.where(s > 0, np.clip(np.rint(v / safe), -Q, Q), 0)
    return (vq.astype(np.float64) @ w.T.astype(np.float64)) * (s.astype(np.float64) * scale)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def reference_step(kind, sd, x, h, c, relu=False):
    """One step of a one-layer, one-direction int8 module (cells: no suffix)."""
    sfx = "_l0" if "weight_ih_l0" in sd else ""
    G = sd[f"weight_ih{sfx}"].shape[0]
    b_ih = sd.get(f"bias_ih{sfx}", np.zeros(G, np.float32))
    b_hh = sd.get(f"bias_hh{sfx}", np.zeros(G, np.float32))
    gi = q8_product(sd[f"weight_ih{sfx}"], sd[f"weight_ih{sfx}_scale"], x) + b_ih
    gh = q8_product(sd[f"weight_hh{sfx}"], sd[f"weight_hh{sfx}_scale"], h) + b_hh
    if kind.startswith("RNN"):
        return (np.maximum(gi + gh, 0) if relu else np.tanh(gi + gh)), None
    H = G // (3 if kind.startswith("GRU") else 4)
    if kind.startswith("GRU"):
        r, z = sigmoid(gi[:, :H] + gh[:, :H]), sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, None
    a = gi + gh
    i, f, g, o = (sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]),
                  sigmoid(a[:, 3 * H:]))
    c = f * c + i * g
    m = o * np.tanh(c)
    if f"weight_hr{sfx}" in sd:
        m = q8_product(sd[f"weight_hr{sfx}"], sd[f"weight_hr{sfx}_scale"], m)
    return m, c


ONE_LAYER = [("RNN", {}), ("RNN", dict(nonlinearity="relu")), ("LSTM", {}),
             ("LSTM", dict(proj_size=7)), ("GRU", {}), ("GRU", dict(bias=False))]


@pytest.mark.parametrize("name", ISAS)
@pytest.mark.parametrize("kind,kw", ONE_LAYER + CELLS)
def test_int8_step_matches_the_scheme(kind, kw, name):
    rng = np.random.default_rng(1)
    m = make(kind, kw)
    q = crnn.quantize(m, "int8")
    sd = q.state_dict()
    N, H = 6, m.hidden_size
    P = getattr(m, "proj_size", 0) or H
    x = rng.standard_normal((N, 13)).astype(np.float32)
    x[2] = 0                                   # a row of zeros: scale 0
    h = rng.uniform(-1, 1, (N, P)).astype(np.float32)
    c = rng.uniform(-1, 1, (N, H)).astype(np.float32)
    lstm = "LSTM" in kind
    with isa(name):
        want_h, want_c = reference_step(kind, sd, x, h, c, kw.get("nonlinearity") == "relu")
        if isinstance(m, crnn.RNNCellBase):
            got = q(x, (h, c) if lstm else h)
        else:
            got = q(x[None], (h[None], c[None]) if lstm else h[None])[1]
        got_h, got_c = (got if lstm else (got, None))
        np.testing.assert_allclose(np.squeeze(got_h), want_h, rtol=1e-5, atol=2e-6)
        if lstm:
            np.testing.assert_allclose(np.squeeze(got_c), want_c, rtol=1e-5, atol=2e-6)


# -- the same bits however batched, chunked or threaded ---------------------------
@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
@pytest.mark.parametrize("name", ISAS)
@pytest.mark.parametrize("kind,kw", [("LSTM", dict(proj_size=5)), ("GRU", {}), ("RNN", {})])
def test_a_sequence_gets_the_same_bits_alone_in_a_batch_or_in_chunks(kind, kw, name, dtype):
    rng = np.random.default_rng(2)
    q = crnn.quantize(make(kind, kw, I=40, H=70), dtype)
    x = rng.standard_normal((30, 7, 40)).astype(np.float32)
    with isa(name):
        whole, _ = q(x)
        alone, state = q(x[:, 3:4])
        np.testing.assert_array_equal(whole[:, 3:4], alone)
        parts, s = [], None
        for t0 in (0, 1, 11, 12):                # chunks of 1, 10, 1, 18 steps
            t1 = {0: 1, 1: 11, 11: 12, 12: 30}[t0]
            y, s = q(x[t0:t1, 3:4], s)
            parts.append(y)
        np.testing.assert_array_equal(np.concatenate(parts), alone)
        for a, b in zip(flat(s), flat(state)):
            np.testing.assert_array_equal(a, b)
        crnn.set_num_threads(2)
        try:
            two, _ = q(x)
        finally:
            crnn.set_num_threads(1)
        np.testing.assert_array_equal(two, whole)


@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_packed_input_is_the_padded_one(dtype):
    rng = np.random.default_rng(4)
    q = crnn.quantize(make("LSTM", dict(bidirectional=True, num_layers=2)), dtype)
    lengths = [9, 7, 7, 2]
    x = rng.standard_normal((9, 4, 13)).astype(np.float32)
    out, (h, c) = q(pack_padded_sequence(x, lengths))
    padded, _ = pad_packed_sequence(out)
    for n, L in enumerate(lengths):
        y, (hn, cn) = q(x[:L, n:n + 1])
        np.testing.assert_array_equal(padded[:L, n:n + 1], y)
        np.testing.assert_array_equal(h[:, n:n + 1], hn)


# -- the module ---------------------------------------------------------------------
@pytest.mark.parametrize("kind,kw", LAYERS + CELLS)
def test_called_like_the_original_which_is_untouched(kind, kw):
    rng = np.random.default_rng(5)
    m = make(kind, kw)
    before = {k: v.copy() for k, v in m.state_dict().items()}
    q = crnn.quantize(m, "int8")
    assert isinstance(q, getattr(crnn, kind)) and not q.training
    assert repr(q) == repr(m)[:-1] + ", weights=int8)"
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    cell = isinstance(m, crnn.RNNCellBase)
    x = rng.standard_normal((13,) if cell else (6, 13)).astype(np.float32)   # unbatched
    got, want = flat(q(x)), flat(m(x))
    assert [a.shape for a in got] == [a.shape for a in want]
    assert all(a.dtype == np.float32 for a in got)
    for a, b in zip(got, want):
        assert np.linalg.norm(a - b) <= 0.05 * np.linalg.norm(b) + 1e-6


@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_the_weights_are_buffers_without_gradients(dtype):
    m = crnn.LSTM(3, 5, proj_size=2, seed=0)
    q = crnn.quantize(m, dtype)
    assert list(q.parameters()) == [] and len(list(m.parameters())) == 5
    assert [n for n, _ in q.named_buffers()] == list(q.state_dict())
    assert all(b.grad is None and not b.data.flags.writeable for b in q.buffers())
    with pytest.raises(ValueError, match="empty parameter list"):
        crnn.optim.SGD(q.parameters())
    with pytest.raises(TypeError, match="expected crnn Parameters"):
        crnn.optim.SGD(q.buffers())


def test_float64_modules_quantize_to_float32_serving():
    m = crnn.GRU(5, 8, dtype=np.float64, seed=1)
    q = crnn.quantize(m, "bfloat16")
    y, h = q(np.ones((3, 2, 5)))
    assert y.dtype == np.float32 and q.dtype == np.float32


@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_training_and_backward_are_refused(dtype):
    q = crnn.quantize(crnn.LSTM(4, 6, num_layers=2, dropout=0.5, seed=0), dtype)
    with pytest.raises(RuntimeError, match="for inference only"):
        q.train()
    q.train(False)
    q.eval()
    with pytest.raises(RuntimeError, match="backward: a quantized LSTM .* inference only"):
        q.backward(np.zeros((2, 1, 6), np.float32))
    with pytest.raises(RuntimeError, match="inference only"):
        q.zero_grad()
    with pytest.raises(AttributeError, match="weight_ih_l0: the weights of a quantized"):
        q.weight_ih_l0 = np.zeros((24, 4))
    with pytest.raises(ValueError, match="read-only"):
        q.weight_hh_l0.data[0, 0] = 1
    y1, _ = q(np.ones((3, 1, 4), np.float32))
    y2, _ = q(np.ones((3, 1, 4), np.float32))
    np.testing.assert_array_equal(y1, y2)    # eval: no dropout


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dtype.*int8.*bfloat16.*'int4'"):
        crnn.quantize(crnn.GRU(3, 4), "int4")
    with pytest.raises(TypeError, match="module: expected a float RNN"):
        crnn.quantize(crnn.Linear(3, 4))
    q = crnn.quantize(crnn.GRU(3, 4), "int8")
    with pytest.raises(TypeError, match="module: expected a float"):
        crnn.quantize(q)
    m = crnn.GRU(3, 4)
    m.weight_hh_l0.data[1, 2] = np.nan
    with pytest.raises(ValueError, match="weight_hh_l0: cannot quantize weights that are not"):
        crnn.quantize(m)
    with pytest.raises(ValueError, match="input.*expected.*3"):
        q(np.ones((2, 1, 5), np.float32))


def test_nan_inputs_give_nan_rows_only():
    q = crnn.quantize(crnn.GRU(6, 8, seed=2), "int8")
    x = np.ones((4, 3, 6), np.float32)
    x[2, 1, 3] = np.nan
    y, _ = q(x)
    assert np.isnan(y[2:, 1]).all() and not np.isnan(y[:2]).any()
    assert not np.isnan(y[:, [0, 2]]).any()


@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_pickle_keeps_the_quantized_module(dtype):
    q = crnn.quantize(crnn.LSTM(5, 9, proj_size=3, seed=1), dtype)
    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(np.float32)
    r = pickle.loads(pickle.dumps(q))
    assert repr(r) == repr(q)
    for a, b in zip(flat(r(x)), flat(q(x))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="read-only"):
        r.weight_ih_l0.data[0, 0] = 1


# -- save and load ---------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", ["int8", "bfloat16"])
def test_save_and_load_keep_the_quantized_form(tmp_path, suffix, dtype):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    m = crnn.LSTM(6, 10, proj_size=4, bidirectional=True, seed=3)
    q = crnn.quantize(m, dtype)
    path = tmp_path / f"q{suffix}"
    crnn.save(q, path)
    sd = crnn.load(path)
    if dtype == "int8":
        assert sd["weight_ih_l0"].dtype == np.int8 and sd["weight_ih_l0_scale"].shape == (40,)
        assert sd["weight_hr_l0_reverse_scale"].dtype == np.float32
        assert sd["bias_ih_l0"].dtype == np.float32
    else:   # bfloat16: every parameter
        assert sd["weight_ih_l0"].dtype == np.uint16 and "weight_ih_l0_scale" not in sd
        assert sd["bias_ih_l0"].dtype == np.uint16
    r = crnn.quantize(crnn.LSTM(6, 10, proj_size=4, bidirectional=True), dtype)
    r.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((5, 2, 6)).astype(np.float32)
    for a, b in zip(flat(r(x)), flat(q(x))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match=f"{dtype}-quantized weights.*crnn.quantize"):
        crnn.LSTM(6, 10, proj_size=4, bidirectional=True).load_state_dict(sd)
    with pytest.raises(TypeError, match=f"{dtype}-quantized weights"):
        crnn.LSTM(6, 10, proj_size=4, bidirectional=True).load_state_dict(sd, strict=False)
    other = "bfloat16" if dtype == "int8" else "int8"
    with pytest.raises((TypeError, crnn.StateDictKeyError)):
        crnn.quantize(crnn.LSTM(6, 10, proj_size=4, bidirectional=True), other) \
            .load_state_dict(sd)


def test_float_weights_are_refused_by_a_quantized_module():
    q = crnn.quantize(crnn.GRU(3, 4), "bfloat16")
    with pytest.raises(TypeError, match="weight_ih_l0: expected uint16 weights.*float "
                       "state dict goes into the float module"):
        q.load_state_dict(crnn.GRU(3, 4).state_dict())
    q8 = crnn.quantize(crnn.GRU(3, 4), "int8")
    with pytest.raises(crnn.StateDictKeyError, match="no scales"):
        q8.load_state_dict(crnn.GRU(3, 4).state_dict())


@pytest.mark.parametrize("bad,match", [
    (lambda sd: sd.update(weight_hh_l0_scale=np.zeros(12, np.float32)),
     "weight_hh_l0_scale: scales must be positive, finite numbers, got 0.0 at row 0"),
    (lambda sd: sd["weight_hh_l0_scale"].__setitem__(5, np.nan), "got nan at row 5"),
    (lambda sd: sd["weight_ih_l0_scale"].__setitem__(1, -1), "got -1.0 at row 1"),
    (lambda sd: sd.update(weight_ih_l0_scale=np.ones(11, np.float32)),
     r"weight_ih_l0_scale: expected shape \(12,\), got \(11,\)"),
    (lambda sd: sd.update(weight_ih_l0=sd["weight_ih_l0"].astype(np.int16)),
     "weight_ih_l0: expected int8 weights"),
    (lambda sd: sd.update(weight_hh_l0=sd["weight_hh_l0"][:, :3]),
     r"weight_hh_l0: expected shape \(12, 4\)"),
])
def test_a_damaged_quantized_state_dict_is_refused_and_never_run(bad, match):
    q = crnn.quantize(crnn.GRU(3, 4, seed=1), "int8")
    x = np.ones((2, 1, 3), np.float32)
    y, _ = q(x)
    sd = q.state_dict()
    bad(sd)
    with pytest.raises((ValueError, TypeError), match=match):
        q.load_state_dict(sd)
    np.testing.assert_array_equal(q(x)[0], y)     # unchanged


def test_the_core_refuses_bad_scales_and_foreign_packing():
    w = np.zeros((4, 3), np.int8)
    args = (_kernels.GRU, False, 3, 4, 0)
    wh = np.zeros((12, 4), np.int8)
    with pytest.raises(ValueError, match="scale"):
        _kernels.Direction(*args, (np.zeros((12, 3), np.int8), wh, None, None, None), None,
                           _kernels.QINT8, (np.ones(12, np.float32),
                                            np.zeros(12, np.float32), None, None, None))
    with pytest.raises(ValueError, match="weight_ih: expected int8"):
        _kernels.Direction(*args, (w.astype(np.float32), wh, None, None, None), None,
                           _kernels.QINT8, (np.ones(12, np.float32),) * 2 + (None,) * 3)
