"""A torch tensor that requires grad is taken as its values, with a warning
(once per process) that names .detach()."""
import warnings

import pytest
import torch

import crnn
from crnn import _validate


def test_requires_grad_warns_once_naming_detach(monkeypatch):
    monkeypatch.setattr(_validate, "_warned_requires_grad", False)
    rnn = crnn.RNN(3, 4)
    x = torch.randn(5, 3, requires_grad=True)
    with pytest.warns(UserWarning, match=r"requires grad.*tensor\.detach\(\)") as record:
        out, _ = rnn(x)
    assert record[0].filename == __file__            # points at the caller's line
    assert out.shape == (5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn(x)                                       # once per process
        monkeypatch.setattr(_validate, "_warned_requires_grad", False)
        rnn(x.detach())                              # detached: no warning
