"""Small API promises: exception classes importable from crnn and caught as
the built-in kind, shape mismatches that name the constructor argument that
would fit, torch-like reprs."""
import numpy as np
import pytest

import crnn


@pytest.mark.parametrize("name, bases", [
    ("StateDictKeyError", (KeyError, RuntimeError)),
    ("ParameterShapeError", (ValueError, RuntimeError)),
    ("UnsafeCheckpointError", (ValueError,)),
    ("UnsaveableError", (TypeError,)),
])
def test_exceptions_importable_and_builtin(name, bases):
    cls = getattr(crnn, name)
    assert name in crnn.__all__ and issubclass(cls, bases)


def test_each_exception_is_what_its_function_raises(tmp_path):
    with pytest.raises(crnn.StateDictKeyError):
        crnn.GRU(2, 3).load_state_dict({})
    with pytest.raises(crnn.ParameterShapeError):
        crnn.GRU(2, 3).load_state_dict(crnn.GRU(2, 4).state_dict())
    with pytest.raises(crnn.UnsaveableError):
        crnn.save({"x": object()}, tmp_path / "x.npz")


@pytest.mark.parametrize("module, other, hint", [
    (crnn.GRU(10, 20), crnn.GRU(10, 64), "a GRU built with hidden_size=64 would fit"),
    (crnn.LSTM(10, 20, 2), crnn.LSTM(3, 20, 2), "an? LSTM built with input_size=3 would"),
    (crnn.RNN(4, 8), crnn.RNN(4, 16), "hidden_size=16"),
    (crnn.LSTM(4, 8, proj_size=3), crnn.LSTM(4, 8, proj_size=5), "proj_size=5"),
    (crnn.GRUCell(3, 4), crnn.GRUCell(3, 8), "a GRUCell built with hidden_size=8"),
    (crnn.Linear(3, 4), crnn.Linear(6, 4), "a Linear built with in_features=6"),
])
def test_shape_mismatch_names_the_argument_that_fits(module, other, hint):
    with pytest.raises(crnn.ParameterShapeError, match=hint):
        module.load_state_dict(other.state_dict())


def test_reprs():
    assert repr(crnn.MSELoss()) == "MSELoss()"
    assert repr(crnn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert repr(crnn.CrossEntropyLoss(ignore_index=0)) == "CrossEntropyLoss(ignore_index=0)"
    opt = crnn.optim.SGD(crnn.Linear(2, 2).parameters(), lr=0.5, momentum=0.9)
    assert repr(opt).splitlines()[:3] == ["SGD (", "Parameter Group 0", "    lr: 0.5"]
    assert "    momentum: 0.9" in repr(opt).splitlines()
    sched = crnn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    assert repr(sched) == "CosineAnnealingLR(T_max=10, eta_min=0.0)"
    assert repr(crnn.optim.lr_scheduler.ReduceLROnPlateau(opt)).startswith(
        "ReduceLROnPlateau(mode='min', factor=0.1, patience=10")
    assert repr(crnn.GRU(2, 3, num_layers=2)) == "GRU(2, 3, num_layers=2)"
