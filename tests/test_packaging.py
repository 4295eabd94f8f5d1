"""The wheel's Python part, as setuptools' build_py lays it out from
pyproject.toml: no setuptools warnings, and exactly the package's source
files (modules, the Cython shim, the C core's sources, the demo's data)."""
import os
import re
import warnings
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "crnn"
# what a build or an editable install leaves in the source tree
BUILT = (".so", ".pyd", ".o", ".html")


def source_files():
    found = set()
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            rel = Path(folder, f).relative_to(PACKAGE.parent).as_posix()
            if not f.endswith(BUILT) and rel != "crnn/_kernels.c":
                found.add(rel)
    return found


def test_build_py_warns_nothing_and_takes_every_source_file(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = setuptools.Distribution()
        dist.script_name = "setup.py"
        dist.parse_config_files(["pyproject.toml"])
        cmd = dist.get_command_obj("build_py")
        cmd.build_lib = str(tmp_path)
        cmd.compile = cmd.optimize = 0
        cmd.ensure_finalized()
        cmd.run()
    assert [str(w.message).splitlines()[0] for w in caught] == []
    built = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert built == source_files()
    assert {"crnn/_core/dispatch.c", "crnn/_core/plan.h", "crnn/data/co2_monthly.csv",
            "crnn/py.typed"} <= built


def test_install_hints_name_each_extras_packages():
    """crnn's messages say `pip install PACKAGES` for an extra: the
    packages pyproject.toml gives that extra."""
    from setuptools.config.pyprojecttoml import read_configuration

    from crnn._extras import EXTRAS
    extras = read_configuration(ROOT / "pyproject.toml")["project"]["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        declared = {re.split(r"[<>=;\[ ]", req)[0] for req in extras[extra]}
        hinted = {re.split(r"[\[]", p.strip('"'))[0] for p in packages.split()}
        assert hinted == declared, extra
