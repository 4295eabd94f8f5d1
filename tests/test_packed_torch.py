"""Packed variable-length batches: the utilities and every layer kind
against torch, packed against padded, and bad input."""
import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as T

import crnn
from conftest import assert_close
from crnn.utils import rnn as U
from torch_oracle import KINDS, state_parts, torch_twin


def random_lengths(rng, N, L, sort):
    lengths = rng.integers(1, L + 1, N)
    lengths[rng.integers(N)] = L
    return np.sort(lengths)[::-1].copy() if sort else lengths


# -- the utilities ----------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_pack_and_pad_match_torch(seed, batch_first, enforce_sorted):
    rng = np.random.default_rng(seed)
    N, L = int(rng.integers(1, 8)), int(rng.integers(1, 7))
    lengths = random_lengths(rng, N, L, enforce_sorted)
    if seed == 0:
        lengths[:] = L if enforce_sorted else rng.integers(1, 3, N)  # ties
    x = rng.standard_normal((N, L, 3) if batch_first else (L, N, 3))
    p = U.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    pt = T.pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths),
                                batch_first, enforce_sorted)
    np.testing.assert_array_equal(p.data, pt.data.numpy())
    np.testing.assert_array_equal(p.batch_sizes, pt.batch_sizes.numpy())
    for a, b in [(p.sorted_indices, pt.sorted_indices), (p.unsorted_indices, pt.unsorted_indices)]:
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_array_equal(p.lengths, lengths)
    for total in (None, L + 2):
        padded, lens = U.pad_packed_sequence(p, batch_first, -1.0, total)
        padded_t, lens_t = T.pad_packed_sequence(pt, batch_first, -1.0, total)
        np.testing.assert_array_equal(padded, padded_t.numpy())
        np.testing.assert_array_equal(lens, lens_t.numpy())
        assert lens.dtype == np.int64


def test_sequence_lists_match_torch():
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1, 5)]
    tseqs = [torch.from_numpy(s) for s in seqs]
    for bf in (False, True):
        for side in ("right", "left"):
            np.testing.assert_array_equal(
                U.pad_sequence(seqs, bf, 7.0, side),
                T.pad_sequence(tseqs, bf, 7.0, side).numpy())
    p = U.pack_sequence(seqs, enforce_sorted=False)
    pt = T.pack_sequence(tseqs, enforce_sorted=False)
    np.testing.assert_array_equal(p.data, pt.data.numpy())
    for a, b in zip(U.unpack_sequence(p), T.unpack_sequence(pt)):
        np.testing.assert_array_equal(a, b.numpy())
    padded = U.pad_sequence(seqs, batch_first=True)
    for a, s in zip(U.unpad_sequence(padded, [3, 5, 1, 5], batch_first=True), seqs):
        np.testing.assert_array_equal(a, s)
    sorted_seqs = sorted(seqs, key=len, reverse=True)
    assert U.pack_sequence(sorted_seqs).sorted_indices is None


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: U.pack_padded_sequence(x, [5, 3, 6]), ValueError,
     "lengths: expected lengths at most the padded sequence length 5"),
    (lambda x: U.pack_padded_sequence(x, [5, 3, 0]), ValueError,
     "lengths: expected every length greater than 0"),
    (lambda x: U.pack_padded_sequence(x, [5, -1, 2], enforce_sorted=False), ValueError,
     "lengths: expected every length greater than 0"),
    (lambda x: U.pack_padded_sequence(x, [5, 3]), ValueError,
     "lengths: expected one length per sequence of the batch \\(batch_size=3\\), got 2"),
    (lambda x: U.pack_padded_sequence(x, [3, 5, 1]), ValueError,
     "lengths: expected decreasing order when enforce_sorted=True"),
    (lambda x: U.pack_padded_sequence(x, [[5, 3, 1]]), ValueError, "lengths: expected a 1-D"),
    (lambda x: U.pack_padded_sequence(x, [5.5, 3, 1]), TypeError, "lengths: expected integers"),
    (lambda x: U.pack_padded_sequence(x[:, :0], []), ValueError, "input: cannot pack an empty batch"),
    (lambda x: U.pad_packed_sequence(U.pack_padded_sequence(x, [5, 3, 1]), total_length=4),
     ValueError, "total_length: expected at least .* \\(5\\), got 4"),
    (lambda x: U.pad_packed_sequence(x), TypeError, "sequence: expected a PackedSequence"),
    (lambda x: U.pad_sequence([]), ValueError, "sequences: received an empty list"),
    (lambda x: U.pad_sequence([np.zeros((2, 3)), np.zeros((2, 4))]), ValueError,
     "sequences: .* got \\(2, 4\\) at index 1"),
    (lambda x: U.PackedSequence(np.zeros((5, 2)), [2, 2]), ValueError,
     "data: expected 4 rows \\(the sum of batch_sizes\\)"),
    (lambda x: U.PackedSequence(np.zeros((5, 2)), [2, 3]), ValueError,
     "batch_sizes: expected positive, non-increasing"),
    (lambda x: U.PackedSequence(np.zeros((5, 2)), [3, 2], [0, 0, 1]), ValueError,
     "sorted_indices: expected a permutation of 0..2"),
    (lambda x: U.PackedSequence(np.zeros((5, 2)), [3, 2], [0, 1]), ValueError,
     "sorted_indices: expected 3 entries, got 2"),
    (lambda x: U.PackedSequence(np.zeros((5, 2)), [3, 2], [2, 0, 1], [2, 0, 1]), ValueError,
     "unsorted_indices: expected the inverse of sorted_indices"),
])
def test_bad_utility_input(call, exc, match):
    x = np.zeros((5, 3, 2))
    with pytest.raises(exc, match=match):
        call(x)


# -- the layers ---------------------------------------------------------------------
def run_packed(module, x, lengths, batch_first, enforce_sorted, hx, rng):
    """crnn and torch on the same packed batch: outputs, final states, and
    every gradient (output gradient given as a PackedSequence)."""
    t = torch_twin(module)
    p = U.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    xt = torch.from_numpy(x).requires_grad_()
    pt = T.pack_padded_sequence(xt, torch.from_numpy(lengths), batch_first, enforce_sorted)
    hx_parts = state_parts(module, hx)
    hxt = None if hx is None else [torch.from_numpy(h).requires_grad_() for h in hx_parts]
    out, state = module(p, hx)
    out_t, state_t = t(pt, None if hxt is None else
                       (tuple(hxt) if isinstance(hx, tuple) else hxt[0]))
    assert isinstance(out, U.PackedSequence)
    np.testing.assert_array_equal(out.batch_sizes, out_t.batch_sizes.numpy())
    assert_close(out.data, out_t.data.detach().numpy(), "packed output")
    states, states_t = state_parts(module, state), state_parts(module, state_t)
    for a, b in zip(states, states_t):
        assert_close(a, b.detach().numpy(), "final state")
    g = rng.standard_normal(out.data.shape).astype(module.dtype)
    g_states = [rng.standard_normal(s.shape).astype(module.dtype) for s in states]
    loss = (out_t.data * torch.from_numpy(g)).sum()
    for s, gs in zip(states_t, g_states):
        loss = loss + (s * torch.from_numpy(gs)).sum()
    loss.backward()
    gx, ghx = module.backward(out._replace(data=g),
                              tuple(g_states) if isinstance(state, tuple) else g_states[0])
    assert isinstance(gx, U.PackedSequence)
    np.testing.assert_array_equal(gx.batch_sizes, p.batch_sizes)
    gx_padded, _ = U.pad_packed_sequence(gx, batch_first, total_length=x.shape[1 if batch_first else 0])
    assert_close(gx_padded, xt.grad.numpy(), "grad input")
    if hx is not None:
        for a, b in zip(state_parts(module, ghx), hxt):
            assert_close(a, b.grad.numpy(), "grad initial state")
    tp = dict(t.named_parameters())
    for name, prm in module.named_parameters():
        assert_close(prm.grad, tp[name].grad.numpy(), f"grad {name}")
    return out, state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(8))
def test_packed_layers_match_torch(seed, kind, dtype):
    rng = np.random.default_rng([seed, KINDS.index(kind), dtype == np.float64, 4])
    H = int(rng.integers(2, 12))
    kw = dict(num_layers=int(rng.integers(1, 4)), bidirectional=bool(rng.integers(2)),
              batch_first=bool(rng.integers(2)), bias=bool(rng.integers(2)), dtype=dtype,
              seed=seed)
    if kind == "RNN":
        kw["nonlinearity"] = ["tanh", "relu"][seed % 2]
    if kind == "LSTM" and seed % 2:
        kw["proj_size"] = int(rng.integers(1, H))
    m = getattr(crnn, kind)(int(rng.integers(1, 10)), H, **kw)
    N, L = int(rng.integers(1, 8)), int(rng.integers(1, 10))
    enforce_sorted = bool(seed % 3 == 0)
    lengths = random_lengths(rng, N, L, enforce_sorted)
    x = rng.standard_normal((N, L, m.input_size) if m.batch_first else (L, N, m.input_size))
    hx = None
    if rng.integers(2):
        D = m.num_directions
        sizes = [m.proj_size or H] + ([H] if kind == "LSTM" else [])
        parts = [rng.standard_normal((D * m.num_layers, N, F)).astype(dtype) for F in sizes]
        hx = tuple(parts) if kind == "LSTM" else parts[0]
    run_packed(m, x.astype(dtype), lengths, m.batch_first, enforce_sorted, hx, rng)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_equals_padded_on_valid_positions(kind):
    """Each sequence run alone (padded, batch of one, its own length) gives
    the packed batch's outputs and final states."""
    rng = np.random.default_rng(21)
    m = getattr(crnn, kind)(3, 5, 2, bidirectional=True, dtype=np.float64, seed=1).eval()
    lengths = np.array([4, 7, 1, 7, 3])
    x = rng.standard_normal((7, 5, 3))
    out, state = m(U.pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded, lens = U.pad_packed_sequence(out)
    np.testing.assert_array_equal(lens, lengths)
    for n, ln in enumerate(lengths):
        ref, ref_state = m(x[:ln, n:n + 1])
        np.testing.assert_allclose(padded[:ln, n:n + 1], ref, rtol=1e-13, atol=1e-13)
        assert not padded[ln:, n].any()
        for a, b in zip(state_parts(m, state), state_parts(m, ref_state)):
            np.testing.assert_allclose(a[:, n:n + 1], b, rtol=1e-13, atol=1e-13)


def test_packed_dropout_and_training_reproduce():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 3))
    p = U.pack_padded_sequence(x, [6, 2, 5, 1], enforce_sorted=False)
    outs = []
    for _ in range(2):
        m = crnn.GRU(3, 4, 3, dropout=0.5, dtype=np.float64, seed=0)
        out, _ = m(p)
        gx, _ = m.backward(out._replace(data=np.ones_like(out.data)))
        outs.append((out.data, gx.data, m.flat_gradients.copy()))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_bad_packed_layer_input():
    m = crnn.LSTM(3, 4, 2)
    p = U.pack_padded_sequence(np.zeros((5, 3, 3)), [5, 3, 1])
    with pytest.raises(ValueError, match="input.data: expected packed rows \\(sum of lengths, 2\\)"):
        crnn.LSTM(2, 4)(p)
    with pytest.raises(ValueError, match="h_0: expected shape \\(2, 3, 4\\), got \\(2, 5, 4\\)"):
        m(p, (np.zeros((2, 5, 4)), np.zeros((2, 3, 4))))
    out, _ = m(p)
    wrong = U.pack_padded_sequence(np.zeros((5, 3, 4)), [5, 2, 2])
    with pytest.raises(ValueError, match="grad_output: expected the batch_sizes"):
        m.backward(wrong)
    with pytest.raises(ValueError, match="grad_output: expected shape \\(9, 4\\)"):
        m.backward(np.zeros((10, 4)))
    gx, _ = m.backward(out.data)            # the data array is accepted too
    assert isinstance(gx, U.PackedSequence) and gx.data.shape == (9, 3)
    m(np.zeros((5, 3, 3)))
    with pytest.raises(TypeError, match="grad_output: got a PackedSequence"):
        m.backward(out)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_long_tails_match_torch(kind):
    """One long sequence among short ones: the tail steps have one row and
    take the core's own loops over repacked weights."""
    rng = np.random.default_rng(31)
    kw = dict(proj_size=3) if kind == "LSTM" else {}
    m = getattr(crnn, kind)(4, 6, 2, bidirectional=True, dtype=np.float64, seed=2, **kw)
    lengths = np.array([3, 50, 1, 7])
    x = rng.standard_normal((50, 4, 4))
    hx = None
    run_packed(m, x, lengths, False, False, hx, rng)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_inference_in_chunks_matches_torch(kind):
    """Inference projects the input a chunk of steps at a time: skewed
    lengths whose rows span several chunks, both directions."""
    rng = np.random.default_rng(37)
    m = getattr(crnn, kind)(4, 6, 2, bidirectional=True, dtype=np.float64, seed=3).eval()
    lengths = np.array([900, 5, 760, 1, 90, 899, 17])
    x = rng.standard_normal((900, 7, 4))
    out, state = m(U.pack_padded_sequence(x, lengths, enforce_sorted=False))
    with torch.no_grad():
        out_t, state_t = torch_twin(m)(T.pack_padded_sequence(
            torch.from_numpy(x), torch.from_numpy(lengths), enforce_sorted=False))
    assert_close(out.data, out_t.data.numpy(), "packed output")
    for a, b in zip(state if kind == "LSTM" else (state,),
                    state_t if kind == "LSTM" else (state_t,)):
        assert_close(a, b.numpy(), "final state")
