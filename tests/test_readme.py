"""Every ```python block of README.md, and every python block of the docs
pages that is a whole program, runs on its own, as a new user would paste
it: in a fresh interpreter, in an empty folder.

README keeps a quick start; the rest of what it used to show (LSTM, packed
batches, training, saving, serving, ONNX, MPI, Dask) lives in the user
guide, and runs here as it did from README. A docs block is a whole
program when it starts with an import or with a ``# needs`` line; a block
that starts otherwise continues the one before it on its page (a fragment)
and is not run alone. A block that needs an optional package (torch,
onnxruntime, mpi4py, dask, ...) says so in its first line (``# needs
torch`` or ``# needs onnx, onnxruntime``) and runs where those are
installed (the README's test command installs them all)."""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def readme_blocks():
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def rst_python_blocks(path):
    """The python code blocks of one .rst page, dedented, in order."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"^\.\. code-block:: python\n((?:[ \t]*\n|   .*\n)+)", text, re.M)
    return [textwrap.dedent(b).strip("\n") + "\n" for b in found]


def is_program(code):
    return re.match(r"(import |from \S+ import |# needs )", code) is not None


def docs_blocks():
    pages = sorted(p for p in DOCS.rglob("*.rst")
                   if not {"generated", "auto_examples", "_build"} & set(p.parts))
    return [(f"{p.relative_to(ROOT).as_posix()} block {i + 1}", code)
            for p in pages for i, code in enumerate(rst_python_blocks(p)) if is_program(code)]


BLOCKS = ([(f"README.md block {i + 1}", code) for i, code in enumerate(readme_blocks())]
          + docs_blocks())


def test_readme_keeps_a_quick_start():
    blocks = readme_blocks()
    assert len(blocks) >= 2
    assert any("backward" in b for b in blocks)               # a training step
    assert any("load_state_dict(t.state_dict())" in b for b in blocks)   # torch's weights


def test_docs_hold_the_blocks_that_left_readme():
    """The programs README used to run (LSTM, packed, training, saving,
    serving, freeze, ONNX, MPI, Dask) are whole programs on their pages."""
    where = {name.split(" block")[0] for name, _ in docs_blocks()}
    for page in ["quickstart", "packed", "training", "saving", "serving", "onnx", "scaling"]:
        assert f"docs/guide/{page}.rst" in where, page
    codes = [code for _, code in docs_blocks()]
    for needle in ["pack_padded_sequence", "crnn.optim.lr_scheduler.StepLR", "ckpt = crnn.load",
                   "crnn.quantize(lstm", "crnn.freeze(", "crnn.onnx.export(gru",
                   "dist.allreduce_gradients", "crnn.dask.predict("]:
        assert any(needle in c for c in codes), needle


@pytest.mark.parametrize("name, code", BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_runs(tmp_path, name, code):
    m = re.match(r"# needs ([\w., ]+)", code)
    needs = [n.strip() for n in m.group(1).split(",") if n.strip()] if m else []
    if re.search(r"^import torch", code, re.M):
        assert "torch" in needs, "a block that needs torch says so first"
    for module in needs:
        pytest.importorskip(module)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"{name}:\n{code}\n{r.stderr}"


def test_readme_speed_table_quotes_the_full_tables():
    """README's small speed table copies rows of the performance page's
    AVX-512 table (crnn in both modes, torch, ONNX Runtime at 1 and 2
    threads): when the tables are measured again, both change together."""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("\n## Speed\n"):]
    rows = re.findall(r"^\| ((?:RNN|LSTM|GRU) [^|]+?) \|(.*)\|$", section, re.M)
    assert len(rows) >= 5
    page = (DOCS / "guide" / "performance.rst").read_text(encoding="utf-8")
    avx512 = page[page.index("**AVX-512 path**"):page.index("**AVX2 path**")]
    full = {}
    for line in avx512.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 13:
            full[cells[0]] = cells
    for case, rest in rows:
        quoted = [c.strip().replace("-", "—") for c in rest.split("|")]
        assert case in full, f"README's row {case!r} is not in docs/guide/performance.rst"
        c = full[case]
        assert quoted == [c[1], c[2], c[3], c[4], c[7], c[8], c[9], c[10]], case
