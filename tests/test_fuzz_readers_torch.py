"""A bounded run of the file readers' fuzzer (tests/fuzz_readers.py): a
few thousand inputs per reader, mutated from valid files, and no crash,
hang or exception other than the reader's documented ones."""
import glob
import os
import subprocess
import sys

import pytest

import fuzz_readers

FUZZER = os.path.join(os.path.dirname(__file__), "fuzz_readers.py")
RUNS = 3000


@pytest.mark.parametrize("reader", ["torch", "npz", "safetensors", "onnx"])
def test_fuzz_reader(reader, tmp_path):
    # -seed fixed: the same inputs in every run of the suite
    proc = subprocess.run([sys.executable, FUZZER, reader, f"-runs={RUNS}", "-seed=1",
                           f"-artifact_prefix={tmp_path}/"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"Done {RUNS} runs" in proc.stderr or f"{RUNS} mutated inputs" in proc.stdout


# inputs on which a reader once raised an undocumented exception: each
# replayed through every reader
REGRESSIONS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "fuzz_regressions",
                                            "*.bin")))


def test_fuzz_regressions(tmp_path):
    assert len(REGRESSIONS) >= 10
    for reader in fuzz_readers.SUFFIX:
        target = fuzz_readers.make_target(reader, str(tmp_path))
        for path in REGRESSIONS:
            with open(path, "rb") as f:
                target(f.read())
