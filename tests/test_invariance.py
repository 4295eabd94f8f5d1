"""The same bits however the work arrives, in the deterministic mode: a
sequence's outputs do not depend on the batch it runs in, on how it is cut
into calls, or on threads; training's gradients do not depend on threads.
Each property on every instruction set this CPU runs (bits may differ
between two instruction sets, never within one), float32 and float64,
every kind, stacked, bidirectional where it applies, projections included.
"""
import threading

import numpy as np
import pytest

import crnn
from crnn import _kernels
from crnn.utils.rnn import pack_sequence

KINDS = ("RNN", "LSTM", "GRU")
DTYPES = (np.float32, np.float64)


@pytest.fixture(autouse=True)
def deterministic_mode():
    """These are the deterministic mode's promises (docs/guide/guarantees.rst)."""
    with crnn.deterministic():
        yield


@pytest.fixture(params=_kernels.isa_supported())
def isa(request):
    before = _kernels.isa_active()
    _kernels.select_isa(request.param)
    yield request.param
    _kernels.select_isa(before)


def make(kind, rng, dtype, bidirectional=None, **kw):
    """A random stacked layer in eval mode (sizes wide enough for several
    register blocks and their tails)."""
    H = int(rng.integers(17, 70))
    if kind == "LSTM" and rng.integers(2):
        kw["proj_size"] = int(rng.integers(1, H))
    if bidirectional is None:
        bidirectional = bool(rng.integers(2))
    m = getattr(crnn, kind)(int(rng.integers(1, 40)), H, num_layers=int(rng.integers(1, 3)),
                            bidirectional=bidirectional, dtype=dtype,
                            seed=int(rng.integers(1 << 30)), **kw)
    return m.eval()


def state_row(state, n):
    """Sequence n's final state (every layer-direction)."""
    if isinstance(state, tuple):
        return tuple(s[:, n] for s in state)
    return state[:, n]


def assert_same(a, b, what):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            assert_same(x, y, what)
        return
    assert a.dtype == b.dtype and a.shape == b.shape, what
    diff = np.max(np.abs(a.astype(np.float64) - b)) if a.size else 0
    assert np.array_equal(a, b), f"{what}: differs by up to {diff:.3g}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_batch_invariance(isa, kind, dtype, seed):
    """A sequence alone, at any position of a padded batch of any size, and
    in a packed batch of other lengths: the same outputs and final state."""
    rng = np.random.default_rng([seed, KINDS.index(kind), dtype == np.float64])
    m = make(kind, rng, dtype)
    L = int(rng.integers(1, 30))
    x = rng.standard_normal((L, m.input_size)).astype(dtype)
    alone, s_alone = m(x[:, None])
    for N in (2, int(rng.integers(3, 70))):
        pos = int(rng.integers(N))
        batch = rng.standard_normal((L, N, m.input_size)).astype(dtype)
        batch[:, pos] = x
        out, s = m(batch)
        assert_same(out[:, pos], alone[:, 0], f"output at position {pos} of {N}")
        assert_same(state_row(s, pos), state_row(s_alone, 0), f"final state at {pos} of {N}")
    # packed among shorter and longer companions, in any order
    seqs = [rng.standard_normal((int(rng.integers(1, 40)), m.input_size)).astype(dtype)
            for _ in range(int(rng.integers(1, 9)))]
    pos = int(rng.integers(len(seqs) + 1))
    seqs.insert(pos, x)
    out, s = m(pack_sequence(seqs, enforce_sorted=False))
    padded, _ = crnn.utils.rnn.pad_packed_sequence(out)
    assert_same(padded[:L, pos], alone[:, 0], "packed output")
    assert_same(state_row(s, pos), state_row(s_alone, 0), "packed final state")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_chunk_invariance(isa, kind, dtype, seed):
    """A sequence run in chunks of any sizes, the state carried along:
    exactly the outputs of one call (unidirectional: a reverse direction
    needs the whole sequence)."""
    rng = np.random.default_rng([seed, 10 + KINDS.index(kind), dtype == np.float64])
    m = make(kind, rng, dtype, bidirectional=False, batch_first=bool(rng.integers(2)))
    N, L = int(rng.integers(1, 5)), int(rng.integers(20, 120))
    x = rng.standard_normal((N, L, m.input_size) if m.batch_first else
                            (L, N, m.input_size)).astype(dtype)
    whole, s_whole = m(x)
    cuts = np.sort(rng.choice(np.arange(1, L), size=int(rng.integers(1, 12)), replace=False))
    parts, state = [], None
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, L]):
        out, state = m(x[:, a:b] if m.batch_first else x[a:b], state)
        parts.append(out)
    assert_same(np.concatenate(parts, axis=1 if m.batch_first else 0), whole, "chunked output")
    assert_same(state, s_whole, "chunked final state")


@pytest.mark.parametrize("kind", KINDS)
def test_cell_steps_equal_the_layer(isa, kind):
    """A cell fed one frame per call gives the layer's outputs bit for bit."""
    rng = np.random.default_rng(KINDS.index(kind))
    layer = getattr(crnn, kind)(13, 37, seed=3).eval()
    cell = getattr(crnn, kind + "Cell")(13, 37).eval()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((25, 2, 13)).astype(np.float32)
    whole, _ = layer(x)
    state = None
    for t in range(25):
        state = cell(x[t], state)
        assert_same(state[0] if kind == "LSTM" else state, whole[t], f"step {t}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_thread_and_load_invariance(isa, kind, dtype, restore_threads):
    """Any thread count, and eight threads calling one module at once:
    the bits of a serial call on one thread."""
    rng = np.random.default_rng(KINDS.index(kind))
    m = make(kind, rng, dtype, bidirectional=True)
    xs = [rng.standard_normal((int(rng.integers(2, 60)), int(rng.integers(1, 70)),
                               m.input_size)).astype(dtype) for _ in range(8)]
    crnn.set_num_threads(1)
    want = [m(x) for x in xs]
    for n in (2, 3, 4):
        crnn.set_num_threads(n)
        for x, w in zip(xs, want):
            got = m(x)
            assert_same(got[0], w[0], f"output on {n} threads")
            assert_same(got[1], w[1], f"final state on {n} threads")
    crnn.set_num_threads(2)
    errors = []

    def caller(i):
        try:
            for _ in range(5):
                got = m(xs[i])
                assert_same(got[0], want[i][0], f"output of concurrent caller {i}")
        except AssertionError as e:   # pragma: no cover - reported below
            errors.append(str(e))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(2))
def test_training_is_thread_invariant(isa, kind, dtype, seed, restore_threads):
    """Forward and backward in training mode on 1, 2 and 3 threads: the
    same outputs, input and state gradients and parameter gradients, bit
    for bit (unidirectional layers share their products with a helper,
    bidirectional ones run their directions side by side)."""
    key = [seed, 20 + KINDS.index(kind), dtype == np.float64]
    rng = np.random.default_rng(key)
    kw = dict(dropout=0.3) if rng.integers(2) else {}
    m0 = make(kind, np.random.default_rng(key), dtype, **kw)
    N, L = int(rng.integers(1, 80)), int(rng.integers(2, 40))
    x = rng.standard_normal((L, N, m0.input_size)).astype(dtype)
    if rng.integers(2):
        lengths = sorted(rng.integers(1, L + 1, N).tolist(), reverse=True)
        lengths[0] = L
        x = crnn.utils.rnn.pack_padded_sequence(x, lengths)
    runs = []
    for n in (1, 2, 3):
        crnn.set_num_threads(n)
        m = make(kind, np.random.default_rng(key), dtype, **kw).train()
        out, state = m(x)
        data = out.data if hasattr(out, "batch_sizes") else out
        g = np.random.default_rng(5).standard_normal(data.shape).astype(dtype)
        gx, _ = m.backward(out._replace(data=g) if hasattr(out, "batch_sizes") else g)
        runs.append([data, gx.data if hasattr(gx, "batch_sizes") else gx,
                     m.flat_gradients.copy()])
    for run in runs[1:]:
        for a, b, what in zip(run, runs[0], ("output", "grad input", "parameter grads")):
            assert_same(a, b, what)
