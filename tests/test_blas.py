"""The two modes: the default one calls SciPy's BLAS for the products over
whole sequences (and keeps run-to-run repeatability at a fixed thread
count); the deterministic one calls none. The same-bits promises of the
deterministic mode are tests/test_invariance.py's."""
import os
import subprocess
import sys

import numpy as np
import pytest

import crnn
from crnn import _kernels, _threads
from conftest import assert_close


@pytest.fixture(autouse=True)
def default_mode():
    """Each test starts in the default mode (whatever CRNN_DETERMINISTIC
    says for the rest of the suite) and sets the mode it checks."""
    with crnn.deterministic(False):
        yield


@pytest.fixture
def count():
    """count() -> the gemm calls the core made since the last count()."""
    _kernels.count_blas_calls(True)
    yield lambda: _kernels.count_blas_calls(True)
    _kernels.count_blas_calls(False)


def batch(N=64, L=20, I=48, dtype=np.float32):
    return np.random.default_rng(0).standard_normal((L, N, I)).astype(dtype)


# wide enough that every instruction set hands BLAS the products over the
# whole batch (the core's rule, blocking.h: on AVX2 / AVX-512 at least 512
# rows and gate outputs, 128 inputs and 2^26 multiply-adds)
WIDE = {"RNN": 512, "LSTM": 128, "GRU": 192}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_default_mode_calls_blas(count, kind, dtype):
    H = WIDE[kind]
    m = getattr(crnn, kind)(128, H, dtype=dtype, seed=0)
    x = batch(L=40, I=128, dtype=dtype)     # each of 2 threads' batch halves wide enough
    assert not crnn.are_deterministic_algorithms_enabled()
    count()
    m.eval()(x)
    assert count() > 0, "a forward at batch 64 runs its input projection on BLAS"
    m.train()
    m(x)
    count()
    m.backward(np.ones((40, 64, H), dtype))
    assert count() >= 3, "backward's dX, dW_ih and dW_hh go to BLAS"


def test_small_products_stay_on_the_own_kernels_where_they_are_faster(count):
    """A stream (batch 1, 100 steps) is too few rows for BLAS on the AVX2 and
    AVX-512 kernels; the portable ones hand BLAS anything of 16 rows."""
    m = crnn.LSTM(64, 256, seed=0).eval()
    count()
    m(batch(N=1, L=100, I=64))
    calls = count()
    assert (calls > 0) == (_kernels.isa_active() == "generic"), calls


def test_deterministic_mode_calls_none(count):
    m = crnn.LSTM(128, 128, num_layers=2, bidirectional=True, seed=0)
    x = batch(I=128)
    with crnn.deterministic():
        assert crnn.are_deterministic_algorithms_enabled()
        count()
        m(x)
        m.backward(np.ones((20, 64, 256), np.float32))
        assert count() == 0
    assert not crnn.are_deterministic_algorithms_enabled()
    crnn.use_deterministic_algorithms(True)
    m.eval()(x)
    assert count() == 0     # (the fixture sets the mode back)


def test_frames_and_quantized_modules_call_none(count):
    """A frame (batch 1, one step) and int8 / bf16 weights stay on the
    own kernels in the default mode too."""
    m = crnn.LSTM(48, 40, seed=0).eval()
    count()
    m(batch(N=1, L=1))
    assert count() == 0
    for dtype in ("int8", "bfloat16"):
        crnn.quantize(m, dtype=dtype)(batch())
        assert count() == 0, dtype


def test_modes_agree_and_default_repeats(restore_threads):
    """The two modes compute the same within float rounding; the default
    mode gives the same bits for the same call again, at 1 and 2 threads."""
    m = crnn.GRU(48, 40, num_layers=2, bidirectional=True, seed=0).eval()
    x = batch()
    with crnn.deterministic():
        ref = m(x)[0]
    for threads in (1, 2):
        crnn.set_num_threads(threads)
        first = m(x)[0]
        assert_close(first, ref, f"default mode, {threads} thread(s)")
        for _ in range(3):
            assert np.array_equal(m(x)[0], first), f"{threads} thread(s): a repeat differs"


def test_mode_api():
    with pytest.raises(TypeError, match="mode: expected a bool, got int"):
        crnn.use_deterministic_algorithms(1)
    with pytest.raises(TypeError, match="mode: expected a bool, got str"):
        with crnn.deterministic("yes"):
            pass
    with crnn.deterministic():
        with crnn.deterministic(False):
            assert not crnn.are_deterministic_algorithms_enabled()
        assert crnn.are_deterministic_algorithms_enabled()
    assert not crnn.are_deterministic_algorithms_enabled()
    c = crnn.show_config("dicts")
    assert c["deterministic"] is False
    assert c["blas"]["internal_api"] == "openblas" and "scipy" in c["blas"]["filepath"]


@pytest.mark.parametrize("value, expect", [("1", "True"), ("0", "False"), ("", "False")])
def test_environment_variable(value, expect):
    env = dict(os.environ, CRNN_DETERMINISTIC=value)
    r = subprocess.run([sys.executable, "-c", "import crnn; "
                        "print(crnn.are_deterministic_algorithms_enabled()); crnn.show_config()"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == expect
    assert ("mode: deterministic" in r.stdout) == (expect == "True")


def test_environment_variable_refused():
    env = dict(os.environ, CRNN_DETERMINISTIC="maybe")
    r = subprocess.run([sys.executable, "-c", "import crnn"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode != 0
    assert "CRNN_DETERMINISTIC: expected 1 or 0, got 'maybe'" in r.stderr


def test_scipy_openblas_held_to_one_thread_and_set_back():
    """During a call that reaches BLAS, SciPy's OpenBLAS runs on one thread
    (crnn's threads split the products); after it, the user's setting."""
    lib = _threads.scipy_openblas()
    assert lib.get_num_threads() is not None
    before = lib.get_num_threads()
    lib.set_num_threads(2)
    try:
        seen = []
        with _threads.blas_held():
            seen.append(lib.get_num_threads())
            with _threads.blas_held():
                seen.append(lib.get_num_threads())
            seen.append(lib.get_num_threads())
        assert seen == [1, 1, 1] and lib.get_num_threads() == 2
        crnn.LSTM(128, 128, seed=0)(batch(I=128))
        assert lib.get_num_threads() == 2
    finally:
        lib.set_num_threads(before)


def test_openblas_held_only_where_a_call_may_reach_it():
    """The hold (a few µs a call) is taken for calls with rows enough for
    BLAS on the instruction set in use, and never in the deterministic
    mode: a stream of 100 rows needs none on AVX2 / AVX-512."""
    m = crnn.LSTM(64, 256, seed=0).eval()
    lay = crnn.rnn._Layout.of_input(m, batch(N=1, L=100, I=64))
    generic = _kernels.isa_active() == "generic"
    assert m._plan(lay, 0, False).blas == generic
    lay = crnn.rnn._Layout.of_input(m, batch(N=64, L=20, I=64))
    assert m._plan(lay, 0, False).blas
    with crnn.deterministic():
        assert not m._plan(lay, 0, False).blas
