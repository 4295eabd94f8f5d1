"""Weights in and out: npz and safetensors round trips, torch checkpoints
read without torch's unpickler, and malicious pickles refused."""
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import crnn
from crnn.io import UnsafeCheckpointError


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip(tmp_path, ext):
    m = crnn.LSTM(3, 4, 2, proj_size=2, bidirectional=True, seed=0)
    path = tmp_path / f"m{ext}"
    crnn.save(m, path)
    other = crnn.LSTM(3, 4, 2, proj_size=2, bidirectional=True, seed=1)
    other.load_state_dict(crnn.load(path))
    np.testing.assert_array_equal(other.flat_parameters, m.flat_parameters)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_torch_checkpoint_loads_and_serves(tmp_path, kind):
    kw = dict(proj_size=3) if kind == "LSTM" else {}
    t = getattr(torch.nn, kind)(5, 6, 2, bidirectional=True, **kw)
    path = tmp_path / "ckpt.pt"
    torch.save(t.state_dict(), path)
    m = getattr(crnn, kind)(5, 6, 2, bidirectional=True, **kw).eval()
    m.load_state_dict(crnn.load(path))
    x = np.random.default_rng(0).standard_normal((7, 2, 5)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(m(x)[0], ref, rtol=1e-5, atol=1e-5)


def test_checkpoint_dtypes_and_strides(tmp_path):
    sd = {"a": torch.arange(12, dtype=torch.float64).reshape(3, 4).t(),   # strided view
          "b": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
          "c": torch.tensor([1, 2, 3], dtype=torch.int64), "d": torch.tensor(3.0)}
    torch.save(sd, tmp_path / "x.pth")
    got = crnn.load(tmp_path / "x.pth")
    np.testing.assert_array_equal(got["a"], sd["a"].numpy())
    np.testing.assert_array_equal(got["b"], [1.5, -2.25])
    np.testing.assert_array_equal(got["c"], [1, 2, 3])
    assert got["d"] == 3.0


def _zip_with_pickle(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    _zip_with_pickle(tmp_path / "evil.pt", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match="refusing to load (posix|os)\\.system"):
        crnn.load(tmp_path / "evil.pt")
    assert not marker.exists()

    class Evil2:
        def __reduce__(self):
            return (eval, ("1",))
    _zip_with_pickle(tmp_path / "evil2.pt", pickle.dumps(Evil2(), protocol=2))
    with pytest.raises(UnsafeCheckpointError, match="(__builtin__|builtins).eval"):
        crnn.load(tmp_path / "evil2.pt")


def test_whole_model_checkpoints_and_non_checkpoints_are_refused(tmp_path):
    torch.save(torch.nn.GRU(2, 3), tmp_path / "model.pt")
    with pytest.raises(UnsafeCheckpointError, match="torch.save\\(model.state_dict\\(\\)\\)"):
        crnn.load(tmp_path / "model.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a PyTorch zip checkpoint"):
        crnn.load(tmp_path / "junk.pt")
    _zip_with_pickle(tmp_path / "list.pt", pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        crnn.load(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="path: expected a .npz"):
        crnn.load(tmp_path / "weights.txt")
    m = crnn.GRU(2, 3)
    torch.save(torch.nn.LSTM(2, 3).state_dict(), tmp_path / "lstm.pt")
    with pytest.raises(RuntimeError, match="weight_ih_l0: expected shape \\(9, 2\\), got \\(12, 2\\)"):
        m.load_state_dict(crnn.load(tmp_path / "lstm.pt"))
    torch.save(torch.nn.LSTM(2, 3, proj_size=1).state_dict(), tmp_path / "proj.pt")
    with pytest.raises(RuntimeError, match="unexpected keys \\['weight_hr_l0'\\]"):
        crnn.LSTM(2, 3).load_state_dict(crnn.load(tmp_path / "proj.pt"))


def test_crafted_storages_are_refused_and_legit_sharing_loads(tmp_path):
    """A tensor handed to _rebuild_tensor_v2 in place of a storage (which
    would read past the buffer) is refused; views of one storage, stride-0
    expansions and big-endian records load as torch loads them."""
    from collections import OrderedDict
    inner = torch.zeros(100, 100, dtype=torch.float64)

    class Nested:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (inner, 99, (9901,), (1,), False,
                                                      OrderedDict()))
    torch.save({"w": Nested()}, tmp_path / "oob.pt")   # torch's own storage records
    with pytest.raises(UnsafeCheckpointError, match="malformed storage"):
        crnn.load(tmp_path / "oob.pt")

    base = torch.arange(40, dtype=torch.float32)
    sd = {f"v{i}": t for i, t in enumerate(base.split(10))}
    sd["wide"] = torch.ones(1).expand(10**9)          # 4 GB if copied
    torch.save(sd, tmp_path / "shared.pt")
    got = crnn.load(tmp_path / "shared.pt")
    for i in range(4):
        np.testing.assert_array_equal(got[f"v{i}"], np.arange(10 * i, 10 * i + 10))
    assert got["wide"].shape == (10**9,) and got["wide"].strides == (0,)

    torch.save({"w": torch.arange(4, dtype=torch.float32)}, tmp_path / "le.pt")
    with zipfile.ZipFile(tmp_path / "le.pt") as zin, \
            zipfile.ZipFile(tmp_path / "be.pt", "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in info.filename and not info.filename.endswith("serialization_id"):
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            zout.writestr(info, data)
    np.testing.assert_array_equal(crnn.load(tmp_path / "be.pt")["w"], [0, 1, 2, 3])
