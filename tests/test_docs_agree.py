"""README, the user guide, the examples and crnn's messages say each thing
one way: the schedulers under torch's name crnn.optim.lr_scheduler, torch
tensors loaded as they are, install hints that work from this repository."""
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.rst"),
                *(ROOT / "examples").glob("*.py"), *(ROOT / "examples").glob("*.txt"),
                *(ROOT / "src" / "crnn").rglob("*.py")])
TEXTS = [p for p in TEXTS if not {"generated", "auto_examples", "_build"} & set(p.parts)]


@pytest.mark.parametrize("pattern, why", [
    (r"(?<!optim\.)\bcrnn\.lr_scheduler\b", "the schedulers are crnn.optim.lr_scheduler"),
    (r"\.detach\(\)\.numpy\(\) for k, v in", "torch tensors load as they are"),
    (r"crnn\[\w+", 'crnn is installed from this repository: ".[extra]" or the packages'),
])
def test_one_spelling(pattern, why):
    found = [f"{p.relative_to(ROOT)}:{i}" for p in TEXTS
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(pattern, line)]
    assert found == [], why


def test_torchs_import_of_the_schedulers_works():
    sched = importlib.import_module("crnn.optim.lr_scheduler")
    from crnn.optim.lr_scheduler import StepLR

    import crnn
    assert sched is crnn.optim.lr_scheduler and StepLR is sched.StepLR
