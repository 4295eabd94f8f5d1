"""crnn.dask.predict on the threaded scheduler and on a real
distributed.LocalCluster of 2 worker processes.

In the deterministic mode (these tests' default, the fixture below)
equality is exact: a sequence's outputs are the same bits in any chunk of
any batch, padded or packed (crnn's forward guarantee), and the workers
run the same kernels on the same machine, in the caller's mode. In the
default mode (BLAS) the chunks agree with one call within float rounding.
"""
import os

import dask.array as da          # the test extra brings dask and distributed
import distributed
import numpy as np
import pytest

import crnn
import crnn.dask as crnn_dask
from crnn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from conftest import assert_close


@pytest.fixture(autouse=True)
def deterministic_mode(request):
    """Every test in the deterministic mode, but those marked default_mode."""
    with crnn.deterministic("default_mode" not in request.keywords):
        yield

L, N, F = 9, 23, 3
LENGTHS = np.random.default_rng(1).integers(1, L + 1, N)


def models():
    return [crnn.LSTM(F, 8, 2, proj_size=3, bidirectional=True, seed=0).eval(),
            crnn.GRU(F, 6, batch_first=True, seed=1).eval(),
            crnn.RNN(F, 5, 2, nonlinearity="relu", dtype=np.float64, seed=2).eval()]


def data(m):
    x = np.random.default_rng(0).standard_normal((L, N, F))
    return np.ascontiguousarray(x.transpose(1, 0, 2)) if m.batch_first else x


def chunked(m, x, batch_chunk=5, time_chunk=None):
    b = 0 if m.batch_first else 1
    chunks = [time_chunk or L] * 3
    chunks[b], chunks[2] = batch_chunk, F
    return da.from_array(x, chunks=tuple(chunks))


def reference(m, x, lengths=None):
    """One call on the whole batch: (out, *final states)."""
    if lengths is None:
        out, state = m(x)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=m.batch_first,
                                      enforce_sorted=False)
        out, state = m(packed)
        out, _ = pad_packed_sequence(out, batch_first=m.batch_first, total_length=L)
    return [out] + list(state if isinstance(state, tuple) else (state,))


def predicted(m, dx, lengths=None, **compute):
    out, state = crnn_dask.predict(m, dx, lengths, return_state=True)
    parts = [out] + list(state if isinstance(state, tuple) else (state,))
    return da.compute(*parts, **compute)


@pytest.mark.parametrize("m", models(), ids=lambda m: m.mode)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_threads_equal_one_call(m, with_lengths):
    x = data(m)
    lengths = LENGTHS if with_lengths else None
    got = predicted(m, chunked(m, x), lengths, scheduler="threads")
    want = reference(m, x, lengths)
    assert len(got) == len(want) == (3 if m.mode == "LSTM" else 2)
    for g, w in zip(got, want):
        assert g.dtype == m.dtype
        np.testing.assert_array_equal(g, w)
    if with_lengths:   # past each sequence's end: zeros, as pad_packed_sequence
        t = np.arange(L)[:, None] >= LENGTHS[None, :]
        assert (got[0][t.T if m.batch_first else t] == 0).all()


def test_out_only_chunked_along_the_batch():
    m = models()[0]
    out = crnn_dask.predict(m, chunked(m, data(m), batch_chunk=10))
    assert out.chunks == ((L,), (10, 10, 3), (6,))
    np.testing.assert_array_equal(out.compute(), m(data(m))[0])


def test_lengths_as_a_dask_array_of_other_chunks():
    m = models()[1]
    x = data(m)
    got = crnn_dask.predict(m, chunked(m, x), da.from_array(LENGTHS, chunks=7)).compute()
    np.testing.assert_array_equal(got, reference(m, x, LENGTHS)[0])


def test_chunks_along_time_merged_or_refused():
    m = models()[0]
    x = data(m)
    dx = chunked(m, x, time_chunk=4)
    np.testing.assert_array_equal(crnn_dask.predict(m, dx).compute(), m(x)[0])
    with pytest.raises(ValueError, match=r"x: expected chunks along the batch axis 1 of "
                                         r"\(L, N, H_in\) only .* got chunks \(\(4, 4, 1\)"):
        crnn_dask.predict(m, dx, rechunk=False)


def test_bad_arguments_refused():
    m = models()[0]
    dx = chunked(m, data(m))
    with pytest.raises(ValueError, match="module: expected a module in eval mode"):
        crnn_dask.predict(crnn.GRU(F, 4), dx)
    with pytest.raises(TypeError, match="module: expected a crnn layer .* got GRUCell"):
        crnn_dask.predict(crnn.GRUCell(F, 4).eval(), dx)
    with pytest.raises(TypeError, match="x: expected a dask array .* got ndarray"):
        crnn_dask.predict(m, data(m))
    with pytest.raises(ValueError, match=r"x: expected shape \(L, N, H_in\) with H_in=3, "
                                         r"got shape \(9, 23, 2\)"):
        crnn_dask.predict(m, dx[..., :2])
    with pytest.raises(ValueError, match=r"lengths: expected integers of shape \(23,\)"):
        crnn_dask.predict(m, dx, np.ones(22, int))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("with_lengths", [False, True])
def test_local_cluster_of_two_processes_equals_one_call(client, with_lengths):
    assert len(client.scheduler_info()["workers"]) == 2
    m = models()[0]
    x = data(m)
    lengths = LENGTHS if with_lengths else None
    with distributed.get_task_stream(client) as ts:    # the client's cluster computes
        got = predicted(m, chunked(m, x, batch_chunk=3), lengths)
    for g, w in zip(got, reference(m, x, lengths)):
        np.testing.assert_array_equal(g, w)
    ran = {t["worker"] for t in ts.data if "_run_chunk" in str(t["key"])}
    assert ran and ran <= set(client.scheduler_info()["workers"])
    assert os.getpid() not in client.run(os.getpid).values()   # other processes


@pytest.mark.default_mode
def test_default_mode_on_the_workers_equals_one_call_within_rounding(client):
    """The workers take the caller's mode: the default one here, where a
    chunk's products go to BLAS (its sums change order with the rows)."""
    assert not crnn.are_deterministic_algorithms_enabled()
    m = crnn.LSTM(F, 40, seed=3).eval()
    x = np.random.default_rng(2).standard_normal((L, 64, F)).astype(np.float32)
    got = predicted(m, chunked(m, x, batch_chunk=32))
    for g, w in zip(got, reference(m, x)):
        assert_close(g, w, "default mode, chunks of 32 against one call")


def test_chunks_drawn_on_the_workers(client):
    """Input made by the workers, as scaling.py runs it (chunks handed over
    between processes arrive out of band, possibly unaligned: crnn copies
    such an array before its kernels read it; test_pickle checks that)."""
    m = crnn.LSTM(8, 16, seed=1).eval()
    x = da.random.default_rng(0).standard_normal((100, 2048, 8), chunks=(100, 512, 8),
                                                 dtype=np.float32)
    got = crnn_dask.predict(m, x)[-1].compute()
    np.testing.assert_array_equal(got, m(x.compute())[0][-1])

