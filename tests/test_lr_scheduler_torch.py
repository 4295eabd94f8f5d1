"""Learning-rate schedules against torch's: the same sequence of rates
(exactly: the same float operations), and state dicts that resume them."""
import numpy as np
import pytest
import torch

import crnn
from crnn.optim import lr_scheduler

CASES = [
    ("StepLR", dict(step_size=3, gamma=0.3)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=4)),
]


def pair(lr=0.1):
    p = torch.nn.Parameter(torch.zeros(2))
    return (crnn.optim.SGD(crnn.Linear(2, 2).parameters(), lr=lr),
            torch.optim.SGD([p], lr=lr))


def torch_step(t_opt, t_sched, *args):
    t_opt.step()                     # torch wants opt.step() before sched.step()
    t_sched.step(*args)


@pytest.mark.parametrize("name, kw", CASES)
def test_epoch_schedules_match_torch(name, kw):
    opt, t_opt = pair()
    s = getattr(lr_scheduler, name)(opt, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(t_opt, **kw)
    ours, theirs = [opt.lr], [t_opt.param_groups[0]["lr"]]
    for _ in range(30):
        s.step()
        torch_step(t_opt, ts)
        ours.append(opt.lr)
        theirs.append(t_opt.param_groups[0]["lr"])
        assert s.get_last_lr() == ts.get_last_lr()
    assert ours == theirs
    assert len(set(ours)) > 2        # the rate did change


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", patience=2, cooldown=2, factor=0.5),
                                dict(threshold_mode="abs", threshold=0.05, patience=1,
                                     min_lr=0.002)])
def test_plateau_matches_torch(kw):
    opt, t_opt = pair()
    s = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kw)
    metrics = np.concatenate([np.linspace(1, 0.5, 10), np.full(20, 0.5),
                              0.5 + 0.01 * np.random.default_rng(0).standard_normal(40)])
    ours, theirs = [], []
    for m in metrics:
        s.step(m)
        torch_step(t_opt, ts, m)
        ours.append(opt.lr)
        theirs.append(t_opt.param_groups[0]["lr"])
    assert ours == theirs
    assert len(set(ours)) > 1


@pytest.mark.parametrize("name, kw", CASES[::2] + [("ReduceLROnPlateau", dict(patience=1))])
def test_state_dict_resumes_the_schedule(name, kw):
    def run(opt, s, epochs):
        for e in range(epochs):
            s.step(1.0) if name == "ReduceLROnPlateau" else s.step()
        return opt.lr

    opt, _ = pair()
    s = getattr(lr_scheduler, name)(opt, **kw)
    run(opt, s, 5)
    saved, lr = s.state_dict(), opt.lr
    opt2, _ = pair(lr=lr)
    s2 = getattr(lr_scheduler, name)(opt2, **kw)
    s2.load_state_dict(saved)
    opt2.lr = lr
    assert run(opt2, s2, 9) == run(opt, s, 9)
    with pytest.raises(ValueError, match="state_dict: expected the keys"):
        s2.load_state_dict({"last_epoch": 3})


def test_arguments_checked():
    opt, _ = pair()
    with pytest.raises(TypeError, match="optimizer: expected a crnn.optim optimizer"):
        lr_scheduler.StepLR("sgd", 3)
    with pytest.raises(ValueError, match="step_size: expected an int greater than zero"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match=r"factor: expected a number in \[0, 1\)"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode: expected one of"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="best")
    assert repr(lr_scheduler.StepLR(opt, 3)) == "StepLR(step_size=3, gamma=0.1)"
