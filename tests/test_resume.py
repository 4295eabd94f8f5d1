"""Training that stops and resumes: optimizer and schedule state dicts,
nested checkpoints in .npz and .safetensors, refusals before any byte is
written, and a resumed run whose losses equal the uninterrupted run's bit
for bit."""
import importlib.util
import os

import numpy as np
import pytest

import crnn

# .safetensors needs the safetensors package: the [test] extra brings it; the
# wheel's own torch-free test environment may not
EXTS = [".npz", pytest.param(".safetensors", marks=pytest.mark.skipif(
    importlib.util.find_spec("safetensors") is None, reason="safetensors not installed"))]
OPTIMIZERS = [(crnn.optim.Adam, dict(lr=0.01, amsgrad=True)),
              (crnn.optim.AdamW, dict(lr=0.01)),
              (crnn.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True))]


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 12, 2)).astype(np.float32)
    return x, np.cumsum(x[..., :1], axis=1) * 0.1


def build(make_opt, kw):
    gru = crnn.GRU(2, 6, batch_first=True, seed=0)
    head = crnn.Linear(6, 1, seed=1)
    opt = make_opt(list(gru.parameters()) + list(head.parameters()), **kw)
    sched = crnn.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return gru, head, opt, sched


def epoch(gru, head, opt, sched, x, y):
    mse = crnn.MSELoss()
    opt.zero_grad()
    out, _ = gru(x)
    loss = mse(head(out), y)
    gru.backward(head.backward(mse.backward()))
    opt.step()
    sched.step()
    return loss


@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("make_opt, kw", OPTIMIZERS)
def test_resumed_run_gives_the_same_losses_bit_for_bit(tmp_path, ext, make_opt, kw):
    x, y = data()
    run = build(make_opt, kw)
    straight = [epoch(*run, x, y) for _ in range(10)]

    first = build(make_opt, kw)
    losses = [epoch(*first, x, y) for _ in range(4)]
    gru, head, opt, sched = first
    path = tmp_path / f"run{ext}"
    crnn.save({"model": gru, "head": head, "optim": opt.state_dict(), "sched": sched,
               "epoch": 3}, path)
    del first, gru, head, opt, sched

    gru, head, opt, sched = build(make_opt, kw)      # fresh objects, other state
    ckpt = crnn.load(path)
    gru.load_state_dict(ckpt["model"])
    head.load_state_dict(ckpt["head"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    assert ckpt["epoch"] == 3 and isinstance(ckpt["epoch"], int)
    losses += [epoch(gru, head, opt, sched, x, y) for _ in range(ckpt["epoch"] + 1, 10)]
    assert losses == straight
    assert opt.lr == run[2].lr != kw["lr"]          # the schedule went on, too


@pytest.mark.parametrize("ext", EXTS)
def test_nested_checkpoint_round_trip(tmp_path, ext):
    lstm = crnn.LSTM(3, 4, proj_size=2, seed=0)
    ckpt = {"model": lstm, "epoch": 12, "lr": 0.1, "best": float("inf"), "done": False,
            "name": "run a", "none": None, "shape": (3, 4), "history": [1.5, 2.5],
            "scalar": np.float32(0.25), "nested": {"a": {"b": np.arange(3)}}}
    crnn.save(ckpt, tmp_path / f"c{ext}")
    back = crnn.load(tmp_path / f"c{ext}")
    assert set(back) == set(ckpt)
    for k in ("epoch", "lr", "best", "done", "name", "none", "shape", "history"):
        assert back[k] == ckpt[k] and type(back[k]) is type(ckpt[k]), k
    assert set(back["model"]) == set(lstm.state_dict())
    for k, v in lstm.state_dict().items():
        np.testing.assert_array_equal(back["model"][k], v)
        assert back["model"][k].dtype == v.dtype
    assert back["scalar"] == np.float32(0.25) and back["scalar"].dtype == np.float32
    np.testing.assert_array_equal(back["nested"]["a"]["b"], np.arange(3))


def test_flat_state_dict_file_holds_only_its_arrays(tmp_path):
    gru = crnn.GRU(2, 3)
    crnn.save(gru, tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as f:
        assert sorted(f.files) == sorted(gru.state_dict())


@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("bad, where", [
    ({"model": None, "opt": {"x": object()}}, "opt/x"),
    ({"a": [1, {2.5}]}, "a/1"),
    ({"a/b": 1}, "'a/b'"),
    ({"w": np.array(["text"])}, "w: expected arrays of numbers"),
    ({(1, 2): 3}, "tuple"),
])
def test_unsaveable_refused_before_writing(tmp_path, ext, bad, where):
    path = tmp_path / f"x{ext}"
    with pytest.raises(crnn.UnsaveableError, match=where) as info:
        crnn.save(bad, path)
    assert isinstance(info.value, TypeError)
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    crnn.save({"w": np.ones(3)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        crnn.save({"w": np.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["m.npz"] and path.read_bytes() == before


def test_optimizer_state_dict_structure_and_checks():
    gru = crnn.GRU(2, 3)
    opt = crnn.optim.Adam(gru.parameters(), lr=0.1)
    sd = opt.state_dict()
    assert sd["state"] == {} and sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert sd["param_groups"][0]["lr"] == 0.1
    gru.flat_gradients[...] = 1
    opt.step()
    st = opt.state_dict()["state"][0]
    assert st["step"] == 1 and st["exp_avg"].shape == gru.flat_parameters.shape
    st["exp_avg"][...] = 7                               # a copy, not the state
    assert not (opt.state[0]["exp_avg"] == 7).any()
    other = crnn.optim.Adam(crnn.GRU(2, 4).parameters())
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\]: expected shape"):
        other.load_state_dict(opt.state_dict())
    sgd = crnn.optim.SGD(gru.parameters())
    with pytest.raises(ValueError, match="lacks"):
        sgd.load_state_dict(opt.state_dict())
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1
    with pytest.raises(ValueError, match="lr: expected a number greater than 0"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.1 and opt.state[0]["step"] == 1   # nothing changed
