"""crnn.set_num_threads: the two directions of a bidirectional layer run
side by side and give the numbers they give one after the other."""
import numpy as np
import pytest

import crnn
from crnn import _threads


@pytest.fixture
def restore_threads():
    n = crnn.get_num_threads()
    yield
    crnn.set_num_threads(n)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_parallel_directions_match_serial(kind, restore_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16, 32))
    runs = []
    for n in (1, 2):
        crnn.set_num_threads(n)
        m = getattr(crnn, kind)(32, 48, 2, bidirectional=True, dtype=np.float64, seed=1)
        # enough work per direction that n = 2 runs them side by side
        assert m._parallel(crnn.rnn._Layout.of_input(m, x), 0, False)
        out, _ = m(x)
        gx, _ = m.backward(np.ones_like(out))
        runs.append((out, gx, m.flat_gradients.copy()))
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_set_num_threads_validates_and_reports(restore_threads):
    crnn.set_num_threads(3)
    assert crnn.get_num_threads() == 3
    with pytest.raises(ValueError, match="n: expected an int greater than zero, got 0"):
        crnn.set_num_threads(0)
    with pytest.raises(TypeError, match="n: expected an int"):
        crnn.set_num_threads(1.5)


def test_parallel_sections_pin_and_restore_blas(restore_threads):
    libs = _threads._scipy_blas()
    assert libs, "SciPy's OpenBLAS is found"
    crnn.set_num_threads(2)
    seen = []
    _threads.run_all([lambda: seen.append(libs[0].get_num_threads()),
                      lambda: seen.append(libs[0].get_num_threads())])
    assert seen == [1, 1]                       # pinned inside
    assert libs[0].get_num_threads() == 2       # restored after


def test_errors_in_a_parallel_task_propagate(restore_threads):
    crnn.set_num_threads(2)

    def boom():
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        _threads.run_all([lambda: None, boom])
