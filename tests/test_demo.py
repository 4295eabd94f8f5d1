"""The main job's data and its quick run."""
from pathlib import Path

import numpy as np

from crnn import demo


def test_bundled_series():
    t, co2 = demo.load_co2()
    assert len(t) == len(co2) == 526
    assert t[0] == 1958 + 2.5 / 12 and 310 < co2[0] < 320 and 365 < co2[-1] < 375
    assert np.all(np.diff(t) > 0)


def test_quick_run_reports_figures(tmp_path):
    figs = demo.run(epochs=5, out=None, quiet=True)
    for key in ("one_step_rmse", "naive_one_step_rmse", "span_rmse", "naive_span_rmse"):
        assert np.isfinite(figs[key]) and figs[key] > 0
    assert abs(figs["naive_one_step_rmse"] - 1.251) < 0.01   # persistence on the data
    # the naive forecasts' errors as the install page quotes them (no training in them)
    install = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "install.rst").read_text(
        encoding="utf-8")
    assert f"against {figs['naive_one_step_rmse']:.2f} for" in install
    assert f"against {figs['naive_span_rmse']:.1f} " in install


def test_the_forecaster_served_quantized_keeps_its_accuracy():
    """The demo's GRU, trained as the demo trains it, served with int8 and
    bfloat16 weights: the held-out one-month RMSE within 2% and 0.5% of
    float32's."""
    figs = demo.run(out=None, quiet=True)
    base = figs["one_step_rmse"]
    assert abs(figs["one_step_rmse_int8"] / base - 1) <= 0.02, figs
    assert abs(figs["one_step_rmse_bfloat16"] / base - 1) <= 0.005, figs
