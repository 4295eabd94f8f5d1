"""crnn.set_num_threads: the two directions of a bidirectional layer run
side by side and give the numbers they give one after the other."""
import multiprocessing
import threading
import time

import numpy as np
import pytest

import crnn
from crnn import _threads


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_parallel_directions_match_serial(kind, restore_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16, 32))
    runs = []
    for n in (1, 2):
        crnn.set_num_threads(n)
        m = getattr(crnn, kind)(32, 48, 2, bidirectional=True, dtype=np.float64, seed=1)
        # enough work per direction that n = 2 runs them side by side
        assert m._plan(crnn.rnn._Layout.of_input(m, x), 0, False).parallel
        out, _ = m(x)
        gx, _ = m.backward(np.ones_like(out))
        runs.append((out, gx, m.flat_gradients.copy()))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_batch_slices_match_serial(kind, batch_first, restore_threads, deterministic):
    """A unidirectional layer on 2 threads cuts an inference batch in two and
    runs the halves side by side; training keeps the batch whole and shares
    its products with a helper: the same bits as 1 thread, gradients
    included (the deterministic mode's promise)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((17, 80, 32) if batch_first else (80, 17, 32))
    kw = dict(proj_size=40) if kind == "LSTM" else {}
    h0 = rng.standard_normal((2, 17, 40 if kind == "LSTM" else 104))
    hx = (h0, rng.standard_normal((2, 17, 104))) if kind == "LSTM" else h0
    runs = []
    for n in (1, 2):
        crnn.set_num_threads(n)
        m = getattr(crnn, kind)(32, 104, 2, batch_first=batch_first, dtype=np.float64,
                                seed=2, **kw)
        lay = crnn.rnn._Layout.of_input(m, x)
        plan = m._plan(lay, 0, False)
        assert (len(plan.pieces), plan.parallel) == ((1, False) if n == 1 else (2, True))
        runs_eval = m.eval()(x, hx)[0]
        plan = m._plan(lay, 0, True)
        assert (len(plan.pieces), plan.parallel) == (1, False)
        assert plan.team == (n == 2)
        out, st = m.train()(x, hx)
        g = np.random.default_rng(3).standard_normal(out.shape)
        gx, gh = m.backward(g)
        runs.append((runs_eval, out, gx, m.flat_gradients.copy(),
                     *(st if kind == "LSTM" else (st,)), *(gh if kind == "LSTM" else (gh,))))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_set_num_threads_validates_and_reports(restore_threads):
    crnn.set_num_threads(3)
    assert crnn.get_num_threads() == 3
    with pytest.raises(ValueError, match="n: expected an int greater than zero, got 0"):
        crnn.set_num_threads(0)
    with pytest.raises(TypeError, match="n: expected an int"):
        crnn.set_num_threads(1.5)


def test_errors_in_a_parallel_task_propagate(restore_threads):
    crnn.set_num_threads(2)

    def boom():
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        _threads.run_all([lambda: None, boom])


def test_set_num_threads_while_a_parallel_section_runs(restore_threads):
    crnn.set_num_threads(2)
    m = crnn.GRU(64, 64, bidirectional=True).eval()
    x = np.zeros((50, 32, 64), np.float32)
    stop = threading.Event()

    def work():
        while not stop.is_set():
            m(x)
    t = threading.Thread(target=work)
    t.start()
    try:
        time.sleep(0.2)
        crnn.set_num_threads(1)
        time.sleep(0.2)
    finally:
        stop.set()
        t.join()
    assert crnn.get_num_threads() == 1


def test_a_forked_child_runs_parallel_layers(restore_threads):
    crnn.set_num_threads(2)
    m = crnn.LSTM(32, 48, bidirectional=True).eval()
    x = np.zeros((40, 16, 32))
    m(x)                                     # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=m, args=(x,))
    child.start()
    child.join(60)
    assert child.exitcode == 0


def test_an_eval_forward_leaves_a_pending_training_forward():
    m = crnn.GRU(3, 4, dtype=np.float64)
    x = np.ones((5, 2, 3))
    out, _ = m(x)
    m.eval()
    m(x * 2)
    m.train()
    gx, _ = m.backward(np.ones_like(out))
    assert gx.shape == x.shape


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("packed", [False, True])
def test_a_helper_thread_gives_the_numbers_of_one(kind, packed, restore_threads, deterministic):
    """A layer that is one piece (batch 1, a packed batch) gets a helper on
    2 threads that computes half of every step's recurrent product and of
    the products over all rows (a team): the outputs and the gradients are
    the ones of 1 thread, bit for bit (the deterministic mode's promise)."""
    rng = np.random.default_rng(3)
    H = {"RNN": 560, "LSTM": 260, "GRU": 300}[kind]
    x = rng.standard_normal((12, 3 if packed else 1, 8))
    if packed:
        x = crnn.utils.rnn.pack_padded_sequence(x, [12, 7, 3])
    runs = []
    for n in (1, 2):
        crnn.set_num_threads(n)
        m = getattr(crnn, kind)(8, H, 2, dtype=np.float64, seed=1)
        lay = crnn.rnn._Layout.of_input(m, x)
        assert m._plan(lay, 1, False).team == (n == 2)
        for mode in ("eval", "train"):
            getattr(m, mode)()
            out, state = m(x)
            data = out.data if packed else out
            runs.append(data.copy())
        gx, _ = m.backward(out._replace(data=np.ones_like(data)) if packed else np.ones_like(data))
        runs.append((gx.data if packed else gx).copy())
        runs.append(m.flat_gradients.copy())
    half = len(runs) // 2
    for a, b in zip(runs[:half], runs[half:]):
        np.testing.assert_array_equal(a, b)


def test_a_team_whose_call_fails_lets_its_helper_go(restore_threads):
    """A call handed a team that raises before it reaches the core still
    releases the helper (it would otherwise wait for ever)."""
    from crnn import _kernels, _schedule
    m = crnn.LSTM(3, 4)
    plan = _schedule.LayerPlan([(0, None)], False, True)
    batch = _kernels.Batch(2, 1)
    x = np.zeros((2, 1, 5), np.float32)

    def piece(j, team):
        m._dirs[0].forward(batch, x, team=team)
    crnn.set_num_threads(2)
    raised = []
    t = threading.Thread(target=lambda: raised.append(
        pytest.raises(ValueError, _schedule.run, plan, piece)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "the helper did not return"
    assert "x: expected shape" in str(raised[0].value)
    with pytest.raises(TypeError, match="team"):
        m._dirs[0].forward(batch, x[..., :3], team="helper")


def test_a_piece_that_fails_before_its_kernel_lets_the_helper_go(restore_threads, monkeypatch):
    """A layer given a helper whose piece raises before it reaches the
    kernel (here: its workspace cannot be allocated) raises, and does not
    wait for ever on the helper."""
    crnn.set_num_threads(2)
    m = crnn.LSTM(8, 260, seed=0).eval()
    x = np.zeros((40, 1, 8), np.float32)
    lay = crnn.rnn._Layout.of_input(m, x)
    assert m._plan(lay, 0, False).team

    def no_memory(*args, **kwargs):
        raise MemoryError("no workspace")
    monkeypatch.setattr(crnn.rnn, "_at", no_memory)
    result = []
    t = threading.Thread(target=lambda: result.append(pytest.raises(MemoryError, m, x)),
                         daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "the layer waits for its helper"
    assert result
