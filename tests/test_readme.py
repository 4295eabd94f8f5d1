"""Every ```python block of README.md runs on its own, as a new user would
paste it: in a fresh interpreter, in an empty folder. A block that needs
an optional package (torch, onnxruntime, mpi4py, dask, ...) says so in its
first line (``# needs torch`` or ``# needs onnx, onnxruntime``) and runs
where those are installed (the README's test command installs them all)."""
import os
import re
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def test_readme_has_the_blocks():
    assert len(blocks()) >= 6


@pytest.mark.parametrize("i", range(len(blocks())))
def test_readme_block_runs(tmp_path, i):
    code = blocks()[i]
    m = re.match(r"# needs ([\w., ]+)", code)
    needs = [n.strip() for n in m.group(1).split(",") if n.strip()] if m else []
    if re.search(r"^import torch", code, re.M):
        assert "torch" in needs, "a block that needs torch says so first"
    for name in needs:
        pytest.importorskip(name)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"README block {i + 1}:\n{code}\n{r.stderr}"
