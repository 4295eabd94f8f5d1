"""The kernels' instruction set: chosen from the CPU, forced lower by
CRNN_ISA, reported by show_config and python -m crnn."""
import os
import subprocess
import sys

import numpy as np
import pytest

import crnn
from crnn import _kernels


def run(code, isa):
    env = dict(os.environ, CRNN_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("isa", _kernels.isa_supported())
def test_crnn_isa_forces_a_supported_path(isa):
    r = run("import crnn; c = crnn.show_config('dicts'); print(c['isa'], c['isa_best'])", isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [isa, _kernels.isa_best()]


def test_crnn_isa_refuses_unknown_and_unsupported_names():
    r = run("import crnn", "sse9")
    assert r.returncode != 0
    assert "CRNN_ISA: expected one of generic, avx2, avx512, avx512vnni, got 'sse9'" in r.stderr
    for name in set(_kernels.ISA_NAMES) - set(_kernels.isa_supported()):
        r = run("import crnn", name)
        assert r.returncode != 0 and f"this CPU does not support {name!r}" in r.stderr
        with pytest.raises(ValueError, match="does not support"):
            _kernels.select_isa(name)


def test_isa_order_and_report():
    supported = _kernels.isa_supported()
    assert supported[0] == "generic" and supported[-1] == _kernels.isa_best()
    c = crnn.show_config("dicts")
    assert c["isa"] == _kernels.isa_active() and c["isa_supported"] == list(supported)
    assert c["panel_width"]["float32"] in (4, 16, 64) and c["blas"]["internal_api"] == "openblas"
    with pytest.raises(ValueError, match="mode: expected 'stdout' or 'dicts', got 'x'"):
        crnn.show_config("x")


def test_python_m_crnn_names_the_kernels():
    r = subprocess.run([sys.executable, "-m", "crnn", "--repeat", "1"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"kernels: {_kernels.isa_active()}" in r.stdout and "kernel " in r.stdout


def test_switching_isa_repacks_cached_weights():
    """Weights cached for one instruction set's kernels are packed again
    for another's (their panels differ), with that set's results."""
    m = crnn.LSTM(5, 40, seed=0).eval()
    x = np.random.default_rng(0).standard_normal((30, 20, 5)).astype(np.float32)
    before = _kernels.isa_active()
    try:
        results = {}
        for isa in _kernels.isa_supported():
            _kernels.select_isa(isa)
            results[isa] = m(x)[0]
            fresh = crnn.LSTM(5, 40, seed=0).eval()
            np.testing.assert_array_equal(results[isa], fresh(x)[0])
        for out in results.values():   # paths differ in the last bits only
            np.testing.assert_allclose(out, results[before], rtol=1e-5, atol=1e-6)
    finally:
        _kernels.select_isa(before)
