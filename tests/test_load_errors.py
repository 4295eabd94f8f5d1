"""crnn.load on files it cannot read: crnn's own message, naming the file
and what was expected, never a reader's advice about arguments crnn.load
does not have; a missing optional package is named with what to install
(the packages themselves, or the extra from the checkout)."""
import importlib
import importlib.util
import io
import sys
import zipfile

import numpy as np
import pytest

import crnn

EXPECTED = {"npz": "expected a zip archive of .npy arrays",
            "safetensors": "expected a safetensors file",
            "pt": "PyTorch zip checkpoint"}


def write(path, data):
    path.write_bytes(data)
    return path


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def zipped(**members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def good(tmp_path):
    crnn.save(crnn.GRU(2, 3), tmp_path / "good.npz")
    return (tmp_path / "good.npz").read_bytes()


@pytest.mark.parametrize("name, make", [
    ("garbage.npz", lambda good: b"this is not a zip archive\n" * 8),
    ("empty.npz", lambda good: b""),
    ("array.npz", lambda good: npy_bytes(np.ones(3))),              # a .npy, renamed
    ("objects.npz", lambda good: zipped(**{"a.npy": npy_bytes(np.array([{}], object))})),
    ("truncated.npz", lambda good: good[:len(good) // 2]),
    ("member.npz", lambda good: zipped(**{"a.npy": b"\x93NUMPY garbage"})),
    ("tree.npz", lambda good: zipped(**{"__crnn_tree__.npy": npy_bytes(np.array("{x"))})),
    # (without the safetensors package crnn says what to install instead:
    # test_safetensors_missing_says_what_to_install; the wheel's test run has none)
    pytest.param("garbage.safetensors", lambda good: b"garbage" * 10,
                 marks=pytest.mark.skipif(importlib.util.find_spec("safetensors") is None,
                                          reason="needs the safetensors package")),
    ("garbage.pt", lambda good: b"garbage" * 10),
])
def test_unreadable_files_name_the_path_and_what_was_expected(tmp_path, good, name, make):
    path = write(tmp_path / name, make(good))
    with pytest.raises(ValueError) as info:
        crnn.load(path)
    msg = str(info.value)
    assert msg.startswith(f"path: {str(path)!r}"), msg
    assert EXPECTED[name.rsplit(".")[1]] in msg, msg
    assert "allow_pickle" not in msg and "pickle.load" not in msg, msg


def test_npz_of_objects_says_crnn_never_loads_them(tmp_path):
    path = write(tmp_path / "objects.npz",
                 zipped(**{"a.npy": npy_bytes(np.array([{}], object))}))
    with pytest.raises(ValueError, match="pickled Python objects, which crnn never loads"):
        crnn.load(path)


def test_unknown_format_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"^path: expected a \.npz.*got '.*x\.txt'"):
        crnn.load(tmp_path / "x.txt")
    with pytest.raises(ValueError, match=r"^format: expected 'npz'.*got 'json'"):
        crnn.load(tmp_path / "x.npz", format="json")


HINT = r'pip install {} \(or pip install "\.\[{}\]" in crnn\'s source checkout'


def test_safetensors_missing_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)      # as if not installed
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for call in (lambda: crnn.load(tmp_path / "x.safetensors"),
                 lambda: crnn.save(crnn.GRU(2, 3), tmp_path / "x.safetensors")):
        with pytest.raises(ModuleNotFoundError,
                           match="needs the safetensors package.*" +
                                 HINT.format("safetensors", "safetensors")) as info:
            call()
        assert info.value.name == "safetensors"
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("module, missing, packages, extra", [
    ("crnn.onnx", "onnx", "onnx", "onnx"),
    ("crnn.dask", "dask", r'"dask\[array\]" distributed', "dask"),
    ("crnn.distributed", "mpi4py", "mpi4py mpich", "mpi"),
])
def test_optional_modules_say_what_to_install(monkeypatch, module, missing, packages, extra):
    monkeypatch.setitem(sys.modules, missing, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ModuleNotFoundError, match=HINT.format(packages, extra)) as info:
        importlib.import_module(module)
    assert info.value.name == missing and "crnn[" not in str(info.value)
