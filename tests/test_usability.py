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


@pytest.mark.parametrize("module, other, hint", [
    (crnn.GRU(10, 20), crnn.LSTM(10, 20), r"weight_ih_l0: expected shape \(60, 10\), got "
     r"\(80, 10\); the weights look like an LSTM's \(weight_hh_l0 of shape \(80, 20\): 4 "
     r"gates of hidden_size 20\), not a GRU's: load them into a crnn.LSTM$"),
    (crnn.LSTM(10, 20, 2), crnn.GRU(10, 20, 2), "look like a GRU's .* not an LSTM's"),
    (crnn.GRU(4, 8), crnn.RNN(4, 8), r"look like an RNN's .*1 gate of hidden_size 8"),
    (crnn.GRU(4, 8), crnn.LSTM(4, 8, proj_size=3), "look like an LSTM's"),
    (crnn.GRUCell(4, 8), crnn.LSTMCell(4, 8), "look like an LSTMCell's .* not a GRUCell's"),
])
def test_another_kinds_weights_are_named_as_such(module, other, hint):
    with pytest.raises((crnn.ParameterShapeError, crnn.StateDictKeyError), match=hint) as info:
        module.load_state_dict(other.state_dict())
    assert "would fit" not in str(info.value)


def test_same_kind_other_size_gets_no_kind_hint():
    with pytest.raises(crnn.ParameterShapeError, match="hidden_size=30 would fit") as info:
        crnn.GRU(10, 20).load_state_dict(crnn.GRU(10, 30).state_dict())
    assert "look like" not in str(info.value)


@pytest.mark.parametrize("module, state", [
    (crnn.GRU(3, 4), (np.zeros((1, 1, 4)),)),
    (crnn.RNN(3, 4), (np.zeros((1, 1, 4)), np.zeros((1, 1, 4)))),
    (crnn.GRUCell(3, 4), (np.zeros((1, 4)),)),
])
def test_a_tuple_state_for_one_state_array_says_so(module, state):
    kind = "a GRU" if "GRU" in type(module).__name__ else "an RNN"
    x = np.ones((2, 1, 3) if isinstance(module, crnn.RNNBase) else (1, 3))
    with pytest.raises(TypeError, match=rf"^hx: {kind} takes one state array, not a tuple "
                                        rf".*got a tuple of {len(state)}$"):
        module(x, state)
    if isinstance(module, crnn.RNNBase):
        out, h = module(x, state[0])                 # the array itself is fine
        with pytest.raises(TypeError, match=f"grad_h_n: {kind} takes one state array"):
            module.backward(np.ones_like(out), (np.ones_like(h),))
