"""The examples and benchmarks still run (quick mode), so they cannot rot."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("script", ["examples/forecast.py", "examples/classify_packed.py",
                                    "examples/streaming.py", "examples/torch_checkpoint.py",
                                    "benchmarks/frame_overhead.py"])
def test_example_runs(script):
    path = os.path.join(ROOT, script)
    done = subprocess.run([sys.executable, path, "--quick"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()


def test_bench_serving_runs():
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks/bench.py"), "--serving", "--quick",
           "--threads", "1", "--rounds", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for table in ("**stream**", "**batch**", "**frame**", "**model size**", "**accuracy**"):
        assert table in out
    assert "not available" not in out


# Jupyter starts a kernel as `ipykernel_launcher.py -f kernel.json`: the
# gallery's notebooks run each example there, with its defaults
IN_A_NOTEBOOK = """
import runpy, sys, types
sys.modules.setdefault("ipykernel", types.ModuleType("ipykernel"))
path, sys.argv = sys.argv[1], ["ipykernel_launcher.py", "-f", "kernel-1234.json"]
runpy.run_path(path, run_name="__main__")
"""


@pytest.mark.parametrize("script", ["examples/forecast.py", "examples/classify_packed.py",
                                    "examples/streaming.py", "examples/torch_checkpoint.py",
                                    "examples/distributed_train.py"])
def test_example_runs_as_a_notebook(script, tmp_path):
    done = subprocess.run([sys.executable, "-c", IN_A_NOTEBOOK, os.path.join(ROOT, script)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unrecognized arguments" not in done.stderr and done.stdout.strip()
