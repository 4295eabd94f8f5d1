"""python -m crnn: per-command help, --version, and options of one command
refused by the other with argparse's usual error."""
import importlib.util

import pytest

import crnn
from crnn.__main__ import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"crnn {crnn.__version__}"


@pytest.mark.parametrize("command, own, other", [("demo", "--epochs", "--repeat"),
                                                 ("info", "--repeat", "--epochs")])
def test_command_help_lists_only_its_options(capsys, command, own, other):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: python -m crnn {command}")
    assert own in out and other not in out


def test_top_level_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "info" in out and "demo" in out and "--epochs" not in out


@pytest.mark.parametrize("argv", [("info", "--epochs", "3"), ("--epochs", "3"),
                                  ("demo", "--repeat", "2"), ("demo", "--quick", "--out"),
                                  ("train",), ("info", "--repeat", "0")])
def test_foreign_or_bad_options_refused(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2 and "error:" in err


@pytest.mark.parametrize("argv, names", [
    (("demo", "--out", "/nonexistent/dir/x.png"), ("--out", "/nonexistent/dir", "does not exist")),
    # (the format is matplotlib's to judge: without it the demo writes no plot)
    pytest.param(("demo", "--out", "x.txt"), ("--out", "x.txt", ".png"),
                 marks=pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                          reason="needs matplotlib, the demo extra")),
    (("demo", "--epochs", "0"), ("--epochs", "at least 1", "'0'")),
    (("demo", "--epochs", "-3"), ("--epochs", "'-3'")),
    (("demo", "--out", "."), ("--out", "folder")),
    (("info", "--repeat", "0"), ("--repeat", "'0'"))])
def test_bad_arguments_refused_in_one_line_before_any_work(capsys, monkeypatch, argv, names):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")
    monkeypatch.setattr("crnn.demo.run", no_work)
    monkeypatch.setattr("crnn.__main__.reference_example", no_work)
    monkeypatch.setattr("crnn.show_config", no_work)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "error: argument" in err, err
    for name in names:
        assert name in err, err


def test_demo_writes_no_progress_bar_off_a_terminal(capsys, tmp_path):
    """stderr captured (not a terminal): no bar's updates, a few lines on stdout."""
    from crnn import demo
    demo.run(epochs=30, out=None)
    out, err = capsys.readouterr()
    assert err == "" and "\r" not in out
    assert sum(line.startswith("training GRU: ") for line in out.splitlines()) == 10


def test_info_says_what_this_cpu_supports_without_jargon(capsys):
    crnn.show_config()
    out, _ = capsys.readouterr()
    assert "this CPU supports generic" in out
    assert "panel" not in out and "this CPU runs" not in out
