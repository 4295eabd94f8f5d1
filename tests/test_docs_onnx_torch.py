"""The user guide's ONNX page (docs/guide/onnx.rst, once README's ONNX
section) runs as written: its code blocks in order, in an empty folder."""
import os
import warnings
from pathlib import Path

from test_readme import rst_python_blocks

ONNX_PAGE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "onnx.rst"


def test_onnx_page_examples_run(tmp_path, monkeypatch, capsys):
    blocks = rst_python_blocks(ONNX_PAGE)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch's notes on exporting RNNs
        for block in blocks:
            exec(compile(block, str(ONNX_PAGE), "exec"), namespace)
    assert capsys.readouterr().out.startswith("2 GRU(10, 20, bidirectional=True)")
    assert namespace["out"].shape == (5, 4, 20)       # the torch model, run by crnn
    assert sorted(os.listdir(tmp_path)) == ["gru.onnx", "lstm.onnx", "torch_lstm.onnx"]
