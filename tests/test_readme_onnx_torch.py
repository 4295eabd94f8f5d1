"""The README's ONNX section runs as written (its code blocks in order,
in an empty folder)."""
import os
import re
import warnings

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def onnx_section_code():
    text = open(README, encoding="utf-8").read()
    section = text[text.index("\n## ONNX\n"):text.index("\n## API in brief\n")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_onnx_examples_run(tmp_path, monkeypatch, capsys):
    blocks = onnx_section_code()
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch's notes on exporting RNNs
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    assert capsys.readouterr().out.startswith("2 GRU(10, 20, bidirectional=True)")
    assert namespace["out"].shape == (5, 4, 20)       # the torch model, run by crnn
    assert sorted(os.listdir(tmp_path)) == ["gru.onnx", "lstm.onnx", "torch_lstm.onnx"]
