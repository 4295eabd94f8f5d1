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


# crnn.quantize as a float copy: runs the crnn side of the serving cases
# before (or without) the real one
STAND_IN = '''import copy
import crnn
def quantize(module, dtype="int8"):
    assert dtype in ("int8", "bfloat16")
    return copy.deepcopy(module).eval()
crnn.quantize = quantize
'''


@pytest.mark.parametrize("stand_in", [False, True])
def test_bench_serving_runs(stand_in, tmp_path):
    import crnn
    env = dict(os.environ)
    if stand_in:
        if hasattr(crnn, "quantize"):
            pytest.skip("crnn.quantize exists: the run without a stand-in covers it")
        (tmp_path / "sitecustomize.py").write_text(STAND_IN)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(tmp_path)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks/bench.py"), "--serving", "--quick",
           "--threads", "1", "--rounds", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for table in ("**stream**", "**batch**", "**frame**", "**model size**", "**accuracy**"):
        assert table in out
    quantizes = stand_in or hasattr(crnn, "quantize")
    assert ("crnn int8: not available" in out) != quantizes
    assert ("| crnn int8 | not available" in out) != quantizes
