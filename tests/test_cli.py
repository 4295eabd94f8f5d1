"""python -m crnn: per-command help, --version, and options of one command
refused by the other with argparse's usual error."""
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
