"""crnn.freeze: a frozen module gives the module's bits, frame after frame,
with its state carried; refuses what the module refuses, with the same
messages; pickles and saves as the module does; one call at a time."""
import copy
import pickle
import threading

import numpy as np
import pytest

import crnn
from crnn import _kernels, _schedule

LAYERS = [("RNN", {}), ("RNN", dict(nonlinearity="relu")), ("LSTM", {}),
          ("LSTM", dict(proj_size=5)), ("GRU", {}),
          ("LSTM", dict(num_layers=2, bidirectional=True)),
          ("GRU", dict(num_layers=3, batch_first=True)),
          ("RNN", dict(bidirectional=True, batch_first=True, bias=False)),
          ("LSTM", dict(num_layers=2, proj_size=3, bidirectional=True))]
CELLS = [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", {}),
         ("GRUCell", {}), ("GRUCell", dict(bias=False))]
WEIGHTS = ["float32", "float64", "int8", "bfloat16"]
I, H = 6, 9


def make(kind, kw, weights):
    dtype = np.float64 if weights == "float64" else np.float32
    m = getattr(crnn, kind)(I, H, dtype=dtype, seed=3, **kw).eval()
    if weights in ("int8", "bfloat16"):
        m = crnn.quantize(m, weights)
    return m


def frames(m, shape, count, seed=0):
    dtype = np.float32 if hasattr(m, "weight_dtype") else m.dtype
    return np.random.default_rng(seed).standard_normal((count,) + shape).astype(dtype)


def flat(result):
    """A call's result as a flat list of arrays."""
    if isinstance(result, tuple):
        return [a for r in result for a in flat(r)]
    return [result]


def module_steps(m, xs, hx=None):
    """The module called frame after frame, its state carried: each
    call's results, copied."""
    cell = isinstance(m, crnn.RNNCellBase)
    out, s = [], hx
    for x in xs:
        if cell:
            s = m(x, s)
            out.append([a.copy() for a in flat(s)])
        else:
            y, s = m(x, s)
            out.append([a.copy() for a in flat((y, s))])
    return out


def frozen_steps(f, xs, hx=None):
    out = []
    for t, x in enumerate(xs):
        r = f(x, hx) if t == 0 and hx is not None else f(x)
        out.append([a.copy() for a in flat(r)])
    return out


def assert_same_bits(got, want):
    assert len(got) == len(want)
    for t, (g, w) in enumerate(zip(got, want)):
        assert len(g) == len(w)
        for a, b in zip(g, w):
            assert a.shape == b.shape and a.dtype == b.dtype, (t, a.shape, b.shape)
            np.testing.assert_array_equal(a, b, err_msg=f"frame {t}")


def shapes(m):
    """Input shapes a frame has: batched N=1 and N=3, unbatched; a layer's
    frame is one step (and a chunk of 4 steps)."""
    if isinstance(m, crnn.RNNCellBase):
        return [(1, I), (3, I), (I,)]
    first = (lambda L, N: (N, L, I)) if m.batch_first else (lambda L, N: (L, N, I))
    return [first(1, 1), first(1, 3), (1, I), first(4, 2)]


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("kind,kw", LAYERS + CELLS)
def test_frames_are_the_modules_bits(kind, kw, weights):
    m = make(kind, kw, weights)
    for shape in shapes(m):
        xs = frames(m, shape, 5)
        f = crnn.freeze(m)
        assert_same_bits(frozen_steps(f, xs), module_steps(m, xs))
        assert f.input_shape == shape


@pytest.mark.parametrize("weights", ["float32", "int8"])
@pytest.mark.parametrize("kind,kw", [c for c in LAYERS if not c[1].get("bidirectional")])
def test_carried_state_is_one_call_over_the_sequence(kind, kw, weights):
    """(A bidirectional layer's reverse direction starts from the end of
    what it is given: a frame at a time is not one call over them.)"""
    m = make(kind, kw, weights)
    N, L = 2, 7
    seq = frames(m, (N, L, I) if m.batch_first else (L, N, I), 1)[0]
    f = crnn.freeze(m)
    outs = []
    for t in range(L):
        x = seq[:, t:t + 1] if m.batch_first else seq[t:t + 1]
        y, s = f(x)
        outs.append(y.copy())
    y_all, s_all = m(seq)
    np.testing.assert_array_equal(np.concatenate(outs, axis=1 if m.batch_first else 0),
                                  y_all)
    for a, b in zip(flat(s), flat(s_all)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind,kw", [("LSTMCell", {}), ("GRU", dict(num_layers=2)),
                                     ("LSTM", dict(proj_size=4, bidirectional=True))])
def test_a_given_state_starts_the_call_and_is_carried_on(kind, kw):
    m = make(kind, kw, "float32")
    cell = isinstance(m, crnn.RNNCellBase)
    xs = frames(m, (2, I) if cell else (1, 2, I), 4)
    rng = np.random.default_rng(1)
    if cell:
        hx = tuple(rng.standard_normal((2, H)).astype(np.float32)
                   for _ in range(2 if kind == "LSTMCell" else 1))
    else:
        S = len(m._dirs)
        hx = (rng.standard_normal((S, 2, m._kind.out_size)).astype(np.float32),
              rng.standard_normal((S, 2, H)).astype(np.float32))[:len(m._kind.state_sizes)]
    hx = hx if len(hx) == 2 else hx[0]
    f = crnn.freeze(m)
    f(xs[0])                           # some state, replaced by hx below
    assert_same_bits(frozen_steps(f, xs, hx), module_steps(m, xs, hx))


def test_reset_starts_a_new_stream():
    m = make("LSTMCell", {}, "float32")
    xs = frames(m, (1, I), 3)
    f = crnn.freeze(m)
    first = frozen_steps(f, xs)
    f.reset()
    assert all(np.all(s == 0) for s in flat(f.state))
    assert_same_bits(frozen_steps(f, xs), first)


def test_results_are_owned_read_only_and_out_receives_copies():
    m = make("LSTM", {}, "float32")
    f = crnn.freeze(m)
    x = frames(m, (1, 1, I), 1)[0]
    r1 = f(x)
    r2 = f(x)
    assert r1 is r2                    # the same arrays, overwritten by each call
    with pytest.raises(ValueError):
        r1[0][...] = 0
    want = [a.copy() for a in flat(f(x))]
    out = (np.empty((1, 1, H), np.float32), (np.empty((1, 1, H), np.float32),
                                             np.empty((1, 1, H), np.float32)))
    got = crnn.freeze(m)
    for _ in range(3):
        res = got(x, out=out)
    assert res is out
    for a, b in zip(flat(out), want):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="out"):
        got(x, out=(np.empty((1, 1, H + 1), np.float32), out[1]))
    with pytest.raises(TypeError, match="out"):
        got(x, out=out[0])


def test_the_source_module_changing_afterwards_has_no_effect():
    m = make("GRUCell", {}, "float32")
    xs = frames(m, (1, I), 3)
    want = module_steps(m, xs)
    f = crnn.freeze(m)
    m.weight_hh.data[...] = 0
    m.bias_ih.data += 1
    m.load_state_dict({k: v * 2 for k, v in m.state_dict().items()})
    assert_same_bits(frozen_steps(f, xs), want)
    copy_of = f.module                  # a copy, writable, changing nothing in f
    copy_of.weight_hh.data[...] = 1
    assert_same_bits(frozen_steps(crnn.freeze(f.module), xs), want)
    assert "private copy" in repr(f) and "no effect" in repr(f)
    assert "no effect" in crnn.freeze.__doc__ and "private copy" in crnn.Frozen.__doc__


def test_a_training_module_is_frozen_for_inference_and_left_training():
    m = crnn.LSTM(I, H, num_layers=2, dropout=0.5, seed=0)
    x = frames(m, (1, 1, I), 1)[0]
    f = crnn.freeze(m)
    assert m.training
    y = f(x)[0].copy()
    m.eval()
    np.testing.assert_array_equal(y, m(x)[0])


def messages(call):
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    return type(e.value), str(e.value)


@pytest.mark.parametrize("kind", ["LSTM", "GRUCell", "LSTMCell"])
def test_bad_input_is_refused_with_the_modules_messages(kind):
    m = make(kind, {}, "float32")
    cell = kind.endswith("Cell")
    f = crnn.freeze(m)
    good = frames(m, (2, I) if cell else (1, 2, I), 1)[0]
    f(good)
    S = 1 if cell else len(m._dirs)
    bad_x = [np.zeros((2, I + 1), np.float32) if cell else np.zeros((1, 2, I + 1), np.float32),
             np.zeros((2, 3, 4, I), np.float32), "frames", np.zeros((2, I), complex)
             if cell else np.zeros((1, 2, I), complex)]
    for x in bad_x:
        assert messages(lambda: f(x)) == messages(lambda: m(x)), x
    hshape = (2, H) if cell else (S, 2, H)
    wrong = np.zeros(hshape[:-1] + (H + 2,), np.float32)
    ok = np.zeros(hshape, np.float32)
    bad_h = [(wrong, ok), (ok, wrong), ok] if "LSTM" in kind else [wrong, (ok, ok)]
    for h in bad_h:
        assert messages(lambda: f(good, h)) == messages(lambda: m(good, h)), h
    # a shape the module takes but the frozen one does not
    other = np.zeros((3, I) if cell else (1, 3, I), np.float32)
    with pytest.raises(ValueError, match=r"takes shape .* \(fixed at its first call\)"):
        f(other)
    with pytest.raises(TypeError, match="PackedSequence"):
        from crnn.utils.rnn import pack_sequence
        f(pack_sequence([np.zeros((2, I), np.float32)]))


def test_input_shape_given_up_front():
    m = make("GRU", dict(batch_first=True), "float32")
    f = crnn.freeze(m, input_shape=(2, 1, I))
    assert f.input_shape == (2, 1, I)
    with pytest.raises(ValueError, match="when it was frozen"):
        f(np.zeros((1, 1, I), np.float32))
    with pytest.raises(ValueError, match="features"):
        crnn.freeze(m, input_shape=(2, 1, I + 1))


def test_other_layouts_and_dtypes_are_converted_as_the_module_converts_them():
    m = make("LSTM", dict(num_layers=2), "float32")
    x = frames(m, (1, 2, I), 1)[0]
    want = [a.copy() for a in flat(crnn.freeze(m)(x))]
    for other in (x.astype(np.float64), x.tolist(), np.asfortranarray(x),
                  np.repeat(x, 2, axis=2)[..., ::2]):
        got = crnn.freeze(m)
        got(x)
        got.reset()
        for a, b in zip(flat(got(other)), want):
            np.testing.assert_array_equal(a, b)
    f = crnn.freeze(m)                     # a state as a list, another dtype
    h = [np.zeros((2, 2, H)).tolist(), np.zeros((2, 2, H))]
    for a, b in zip(flat(f(x, tuple(h))), want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weights", ["float32", "int8", "bfloat16"])
def test_pickle_copy_and_save_as_the_module(weights, tmp_path):
    m = make("LSTM", dict(proj_size=4, num_layers=2), weights)
    xs = frames(m, (1, 1, I), 6)
    f = crnn.freeze(m)
    frozen_steps(f, xs[:3])
    g = pickle.loads(pickle.dumps(f))
    d = copy.deepcopy(f)
    assert g.input_shape == f.input_shape
    rest = frozen_steps(f, xs[3:])
    assert_same_bits(frozen_steps(g, xs[3:]), rest)     # the carried state came along
    assert_same_bits(frozen_steps(d, xs[3:]), rest)
    c = copy.copy(f)                                     # shares weights, a new stream
    assert all(np.all(s == 0) for s in flat(c.state))
    assert_same_bits(frozen_steps(c, xs), module_steps(m, xs))
    crnn.save(f, tmp_path / "frozen.npz")
    sd = crnn.load(tmp_path / "frozen.npz")
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(sd[k], v)
    blank = crnn.freeze(make("LSTM", dict(proj_size=4, num_layers=2), weights) if weights
                        == "float32" else crnn.quantize(crnn.LSTM(I, H, 2, proj_size=4),
                                                        weights))
    blank(xs[0])
    blank.load_state_dict(sd)
    assert_same_bits(frozen_steps(blank, xs), module_steps(m, xs))


def test_another_instruction_set_repacks():
    m = make("GRU", dict(num_layers=2), "float32")
    xs = frames(m, (1, 1, I), 4)
    f = crnn.freeze(m)
    before = _kernels.isa_active()
    try:
        for isa in _kernels.isa_supported():
            _kernels.select_isa(isa)
            f.reset()
            assert_same_bits(frozen_steps(f, xs), module_steps(m, xs))
    finally:
        _kernels.select_isa(before)


def test_a_plan_that_shares_the_work_runs_the_modules_plan(monkeypatch, deterministic):
    """With a helper thread or the two directions side by side, the call
    follows the module's plan (same bits in the deterministic mode: the
    plans split no sum)."""
    monkeypatch.setattr(_schedule, "TEAM_MIN", 0)
    monkeypatch.setattr(_schedule, "PARALLEL_FLOPS", 0)
    _schedule._plan.cache_clear()
    before = crnn.get_num_threads()
    try:
        for kw in ({}, dict(bidirectional=True)):
            m = make("LSTM", kw, "float32")
            xs = frames(m, (5, 4, I), 3)
            crnn.set_num_threads(2)
            f = crnn.freeze(m)
            got = frozen_steps(f, xs)
            assert not f.fast
            crnn.set_num_threads(1)
            want = module_steps(m, xs)
            assert_same_bits(got, want)
            assert_same_bits(frozen_steps(crnn.freeze(m), xs), want)
    finally:
        crnn.set_num_threads(before)
        _schedule._plan.cache_clear()


def test_one_call_at_a_time():
    """A call while another runs is refused and changes nothing; the calls
    that ran leave the state of that many frames."""
    m = make("LSTM", dict(num_layers=2), "float32")
    x = frames(m, (20, 3, I), 1)[0]
    f = crnn.freeze(m)
    f(x)
    f.reset()
    f._enter()                          # as a call running on another thread
    with pytest.raises(RuntimeError, match="one call at a time"):
        f(x)
    with pytest.raises(RuntimeError, match="one call at a time"):
        f(x.astype(np.float64))
    f._leave()
    done = [0, 0]
    lock = threading.Lock()

    def worker():
        for _ in range(60):
            try:
                f(x)
                with lock:
                    done[0] += 1
            except RuntimeError:
                with lock:
                    done[1] += 1
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done[0] + done[1] == 120 and done[0] >= 60
    want = module_steps(m, [x] * done[0])[-1]
    for a, b in zip(flat(f.state), want[1:]):
        np.testing.assert_array_equal(a, b)


def test_a_copy_per_thread_serves_streams_side_by_side():
    m = make("GRUCell", {}, "float32")
    streams = [frames(m, (1, I), 40, seed=s) for s in range(4)]
    want = [module_steps(m, xs) for xs in streams]
    base = crnn.freeze(m)
    got = [None] * 4

    def serve(i):
        f = copy.copy(base)
        got[i] = frozen_steps(f, streams[i])
    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        assert_same_bits(g, w)


def test_refuses_what_is_not_a_recurrent_module():
    with pytest.raises(TypeError, match="module"):
        crnn.freeze(crnn.Linear(3, 4))
    f = crnn.freeze(crnn.GRUCell(2, 3))
    with pytest.raises(TypeError, match="already frozen"):
        crnn.freeze(f)


def test_a_subclass_freezes_as_its_kind_and_nothing_is_drawn():
    """The private copy is built by the kind's constructor from the module's
    arguments: a subclass with a constructor of its own freezes (as its
    kind), and neither freeze nor quantize draws from crnn's generator."""
    class Tagger(crnn.LSTM):
        def __init__(self):
            super().__init__(4, 8, batch_first=True, seed=1)

    crnn.manual_seed(0)
    want = crnn.GRU(3, 4).state_dict()
    crnn.manual_seed(0)
    m = Tagger().eval()
    f = crnn.freeze(m)
    crnn.freeze(crnn.quantize(m, "int8"))
    for k, v in crnn.GRU(3, 4).state_dict().items():
        np.testing.assert_array_equal(v, want[k])
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_array_equal(f(x)[0], m(x)[0])
    assert type(f.module) is crnn.LSTM and f.module.batch_first
