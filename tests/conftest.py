"""Shared test helpers. torch is the oracle (a test-only dependency)."""
import numpy as np
import pytest

import crnn


@pytest.fixture
def restore_threads():
    """crnn's thread count set back after the test."""
    n = crnn.get_num_threads()
    yield
    crnn.set_num_threads(n)


@pytest.fixture
def deterministic():
    """The test runs in crnn's deterministic mode (every product on the own
    fixed-order kernels): the mode whose same-bits promises it checks."""
    with crnn.deterministic():
        yield

# Tolerances, stated once. float32: the products sum up to ~100 terms of
# O(1) with eps 6e-8, and torch's vectorised tanh differs from libm's by an
# ulp or two; 1e-5 relative (and absolute, for values near zero) leaves a
# margin of ~2x over the worst error measured across random shapes.
# float64: the same reasoning at eps 1e-16 gives ~1e-13; 1e-10 is the bar.
TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-5),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}


def assert_close(actual, expected, what=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[actual.dtype])
