"""Hostile and messy input at every public entry point; threads; memory.
Each bad case asserts the exception type and that the message names the
argument; layouts that are merely unusual must give the contiguous result."""
import gc
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import crnn
from crnn.utils import rnn as U

KINDS = ("RNN", "LSTM", "GRU")


def layer(kind, **kw):
    return getattr(crnn, kind)(3, 4, **kw)


def state_like(kind, shape):
    return (np.zeros(shape), np.zeros(shape)) if kind == "LSTM" else np.zeros(shape)


# -- bad input, every entry point ---------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value,exc,match", [
    (np.zeros(3), ValueError, "input: expected 2-D"),
    (np.zeros((2, 2, 2, 3)), ValueError, "input: expected 2-D"),
    (np.zeros((5, 2, 7)), ValueError, "input: expected 3 features"),
    (np.full((5, 2, 3), None, dtype=object), TypeError, "input: .*real numbers"),
    (np.array([[["a", "b", "c"]]]), TypeError, "input: .*real numbers"),
    (np.zeros((5, 2, 3), complex), TypeError, "input: .*complex"),
    (np.zeros((5, 2, 3), bool), TypeError, "input: .*bool"),
    (None, TypeError, "input: .*real numbers"),
    ("text", TypeError, "input: .*real numbers"),
])
def test_bad_layer_input(kind, value, exc, match):
    with pytest.raises(exc, match=match):
        layer(kind)(value)


@pytest.mark.parametrize("kind", KINDS)
def test_mismatched_state_batch(kind):
    with pytest.raises(ValueError, match="h_0: expected shape \\(1, 2, 4\\), got \\(1, 3, 4\\)"):
        layer(kind)(np.zeros((5, 2, 3)), state_like(kind, (1, 3, 4)))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_bad_cell_input(cls):
    cell = getattr(crnn, cls)(3, 4)
    with pytest.raises(ValueError, match="input: expected 1-D"):
        cell(np.zeros((2, 2, 3)))
    with pytest.raises(TypeError, match="input: .*complex"):
        cell(np.zeros((2, 3), complex))
    h = (np.zeros((3, 4)),) * 2 if cls == "LSTMCell" else np.zeros((3, 4))
    with pytest.raises(ValueError, match="hx: expected shape \\(2, 4\\)"):
        cell(np.zeros((2, 3)), h)


def test_bad_utilities_and_state_loading():
    with pytest.raises(TypeError, match="lengths: expected integers"):
        U.pack_padded_sequence(np.zeros((3, 2, 1)), ["a", "b"])
    with pytest.raises(ValueError, match="lengths: expected every length greater than 0"):
        U.pack_padded_sequence(np.zeros((3, 2, 1)), [3, 0], enforce_sorted=False)
    with pytest.raises(TypeError, match="sequence: expected a PackedSequence"):
        U.pad_packed_sequence(np.zeros((3, 2)))
    m = crnn.GRU(3, 4)
    with pytest.raises(TypeError, match="weight_ih_l0: .*real numbers"):
        m.load_state_dict({**m.state_dict(), "weight_ih_l0": "weights"})
    with pytest.raises(ValueError, match="weight_hh_l0: expected shape"):
        m.load_state_dict({**m.state_dict(), "weight_hh_l0": np.zeros((12, 4, 1))})


@pytest.mark.parametrize("kind", KINDS)
def test_backward_misuse(kind):
    m = layer(kind)
    with pytest.raises(RuntimeError, match="backward: expected a preceding forward"):
        m.backward(np.zeros((5, 2, 4)))
    out, _ = m(np.zeros((5, 2, 3)))
    g64 = np.ones(out.shape)                    # float64 gradient for a float32 module
    gx, _ = m.backward(g64)
    assert gx.dtype == np.float32
    with pytest.raises(RuntimeError, match="backward: expected a preceding forward"):
        m.backward(g64)                          # twice
    m.eval()
    m(np.zeros((5, 2, 3)))
    with pytest.raises(RuntimeError, match="backward"):
        m.backward(g64)                          # after an eval forward


def test_huge_sizes_are_refused_before_allocating():
    huge = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (70000, 70000, 3),
                                           (0, 0, 4))                # 5e9 rows, no memory
    with pytest.raises(ValueError, match="input: shape \\(70000, 70000, 3\\) needs "
                                         "4900000000 rows"):
        crnn.GRU(3, 4)(huge)
    wide = np.lib.stride_tricks.as_strided(np.zeros(3, np.float32), (2, 2**28, 3), (0, 0, 4))
    with pytest.raises(ValueError, match="input: .*batch x gates"):
        crnn.LSTM(3, 4)(wide)
    with pytest.raises(ValueError, match="hidden_size: .*32-bit"):
        crnn.LSTM(3, 2**30)


# -- unusual layouts give the same numbers ------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_layouts_of_states_grads_and_packed_data(kind):
    rng = np.random.default_rng(0)
    m = getattr(crnn, kind)(3, 4, 2, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((6, 2, 3))
    h = rng.standard_normal((4, 2, 4))
    hx = (h, h * 0.5) if kind == "LSTM" else h
    ref, ref_st = m(x, hx)
    g = rng.standard_normal(ref.shape)
    ref_gx, _ = m.backward(g)
    ref_grads = m.flat_gradients.copy()

    def odd(a):                      # Fortran order, read-only, negative strides
        f = np.asfortranarray(a[..., ::-1])[..., ::-1]
        f.flags.writeable = False
        return f
    m.zero_grad()
    hx2 = (odd(h), odd(h * 0.5)) if kind == "LSTM" else odd(h)
    out, st_ = m(odd(x), hx2)
    gx, _ = m.backward(odd(g))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(gx, ref_gx)
    np.testing.assert_array_equal(m.flat_gradients, ref_grads)

    p = U.pack_padded_sequence(x, [6, 4])
    m.eval()
    a, _ = m(p)
    b, _ = m(U.PackedSequence(odd(p.data), p.batch_sizes))
    np.testing.assert_array_equal(a.data, b.data)


# -- NaN and Inf --------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_nan_and_inf_propagate_without_crashing(kind):
    m = getattr(crnn, kind)(3, 4, dtype=np.float64, seed=0).eval()
    x = np.zeros((4, 2, 3))
    x[1, 0, 0] = np.nan
    x[2, 1, 1] = np.inf
    out, _ = m(x)
    assert np.isnan(out[1:, 0]).all()            # NaN spreads through the recurrence
    assert not np.isnan(out[0]).any()            # but not backwards in time
    assert np.isfinite(out[:2, 1]).all()         # +inf saturates a tanh / sigmoid gate


# -- threads ------------------------------------------------------------------
def assert_threads_match_serial(m, xs, packed, repeat):
    """m on every (padded, packed) input from one thread each, repeat times
    over: every result is the serial one, and no thread hangs."""
    serial = [(m(x)[0], m(p)[0].data) for x, p in zip(xs, packed)]
    results = [None] * len(xs)

    def work(i):
        for _ in range(repeat):
            results[i] = (m(xs[i])[0], m(packed[i])[0].data)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    for (a, b), (c, d) in zip(serial, results):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize("kind", KINDS)
def test_eight_threads_in_eval_mode_match_serial(kind):
    m = getattr(crnn, kind)(8, 16, 2, bidirectional=True, seed=0).eval()
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((20, 4, 8)).astype(np.float32) for _ in range(8)]
    packed = [U.pack_padded_sequence(x, [20, 9, 5, 1]) for x in xs]
    assert_threads_match_serial(m, xs, packed, 5)


@pytest.mark.parametrize("kind", KINDS)
def test_threads_whose_calls_each_want_a_helper_match_serial(kind):
    """Calls at batch 1 and over packed batches that each get a helper
    thread (2 threads), made from 4 threads at once: the helpers queue up
    in crnn's pool, each call does what its helper has not taken, and every
    result is the serial one."""
    n = crnn.get_num_threads()
    crnn.set_num_threads(2)
    try:
        H = {"RNN": 560, "LSTM": 260, "GRU": 300}[kind]   # large enough for a helper
        m = getattr(crnn, kind)(8, H, seed=0).eval()
        rng = np.random.default_rng(2)
        xs = [rng.standard_normal((40, 1, 8)).astype(np.float32) for _ in range(4)]
        packed = [U.pack_padded_sequence(rng.standard_normal((40, 3, 8)).astype(np.float32),
                                         [40, 22, 7]) for _ in range(4)]
        lay = crnn.rnn._Layout.of_input(m, xs[0])
        assert m._plan(lay, 0, False).team
        assert_threads_match_serial(m, xs, packed, 10)
    finally:
        crnn.set_num_threads(n)


def test_overlapping_training_calls_are_refused():
    m = crnn.LSTM(64, 256)
    x = np.zeros((400, 16, 64), np.float32)
    errors, done = [], threading.Event()

    def train_forever():
        while not done.is_set():
            try:
                m(x)
            except RuntimeError:     # refused while the main thread held it
                pass
    t = threading.Thread(target=train_forever)
    t.start()
    try:
        deadline = time.time() + 20
        while not errors and time.time() < deadline:
            try:
                m(x[:2])
            except RuntimeError as e:
                errors.append(str(e))
    finally:
        done.set()
        t.join()
    assert errors and "another thread is running a training forward or backward" in errors[0]


def test_the_gil_is_released_during_compute():
    m = crnn.GRU(256, 512).eval()
    x = np.zeros((300, 32, 256), np.float32)
    ticks, running = [0], threading.Event()

    def count():
        running.set()
        while running.is_set():
            ticks[0] += 1
    t = threading.Thread(target=count)
    start = time.perf_counter()
    m(x)
    alone = time.perf_counter() - start
    t.start()
    ticks[0] = 0
    m(x)
    during = ticks[0]
    running.clear()
    t.join()
    # a Python thread that got no GIL during the call would count almost
    # nothing; released, it counts for the whole call
    assert alone > 0.01 and during > 1000, (alone, during)


# -- memory -------------------------------------------------------------------
def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_resident_memory_stays_flat_over_10000_calls():
    m = crnn.LSTM(8, 16, 2, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((10, 4, 8)).astype(np.float32)
    g = np.ones((10, 4, 32), np.float32)
    for _ in range(500):                         # warm up allocators and caches
        m(x)
        m.backward(g)
    gc.collect()
    before = rss_kib()
    for _ in range(10000):
        m(x)
        m.backward(g)
    gc.collect()
    grown = rss_kib() - before
    assert grown < 4096, f"resident memory grew by {grown} KiB over 10000 calls"


def test_no_reference_or_python_memory_leaks():
    m = crnn.GRU(4, 8, seed=0)
    x = np.ones((5, 3, 4), np.float32)
    g = np.ones((5, 3, 8), np.float32)
    for _ in range(50):
        m(x)
        m.backward(g)
    refs = sys.getrefcount(x), sys.getrefcount(g), sys.getrefcount(m.flat_parameters)
    tracemalloc.start()
    snap = tracemalloc.take_snapshot()
    for _ in range(2000):
        m(x)
        m.backward(g)
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename"))
    tracemalloc.stop()
    assert (sys.getrefcount(x), sys.getrefcount(g), sys.getrefcount(m.flat_parameters)) == refs
    assert grown < 200_000, f"Python allocations grew by {grown} bytes over 2000 calls"
