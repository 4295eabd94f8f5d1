"""Property-based tests (hypothesis): crnn against the NumPy reference of
tests/reference.py over random kinds, sizes, layers, directions, layouts,
dtypes and packed lengths — outputs, final states, and gradients (against
central differences of the reference)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crnn
from crnn.utils.rnn import pack_sequence, pad_packed_sequence
from reference import forward as ref_forward

configs = st.fixed_dictionaries({
    "kind": st.sampled_from(["RNN", "LSTM", "GRU"]),
    "I": st.integers(1, 5), "H": st.integers(2, 6), "layers": st.integers(1, 3),
    "bidirectional": st.booleans(), "batch_first": st.booleans(), "bias": st.booleans(),
    "relu": st.booleans(), "proj": st.booleans(), "packed": st.booleans(),
    "dtype": st.sampled_from([np.float32, np.float64]), "h0": st.booleans(),
    "lengths": st.lists(st.integers(1, 7), min_size=1, max_size=4),
    "seed": st.integers(0, 2**16),
})


def build(c):
    kw = dict(num_layers=c["layers"], bias=c["bias"], batch_first=c["batch_first"],
              bidirectional=c["bidirectional"], dtype=c["dtype"], seed=c["seed"])
    if c["kind"] == "RNN":
        kw["nonlinearity"] = "relu" if c["relu"] else "tanh"
    if c["kind"] == "LSTM" and c["proj"]:
        kw["proj_size"] = c["H"] - 1
    return getattr(crnn, c["kind"])(c["I"], c["H"], **kw)


def run_crnn(m, c, xs, hx):
    """crnn over the sequences, packed or padded; outputs as a list."""
    if c["packed"]:
        out, st_ = m(pack_sequence(xs, enforce_sorted=False), hx)
        padded, lens = pad_packed_sequence(out)
        outs = [padded[:ln, n] for n, ln in enumerate(lens)]
    else:  # padded: all the same length
        x = np.stack(xs, 1)
        out, st_ = m(x.transpose(1, 0, 2) if m.batch_first else x, hx)
        out = out.transpose(1, 0, 2) if m.batch_first else out
        outs = [out[:, n] for n in range(len(xs))]
    return outs, st_


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_outputs_and_gradients_match_the_reference(c):
    rng = np.random.default_rng(c["seed"])
    m = build(c)
    lengths = c["lengths"] if c["packed"] else [c["lengths"][0]] * len(c["lengths"])
    xs = [rng.standard_normal((ln, c["I"])).astype(c["dtype"]) for ln in lengths]
    D = 2 if c["bidirectional"] else 1
    P = m.proj_size or c["H"]
    N = len(xs)
    h0 = rng.standard_normal((D * c["layers"], N, P)) if c["h0"] else None
    c0 = rng.standard_normal((D * c["layers"], N, c["H"])) if c["h0"] else None
    hx = None
    if c["h0"]:
        hx = (h0.astype(c["dtype"]), c0.astype(c["dtype"])) if c["kind"] == "LSTM" \
            else h0.astype(c["dtype"])
    sd = {k: v.astype(np.float64) for k, v in m.state_dict().items()}
    kw = dict(num_layers=c["layers"], bidirectional=c["bidirectional"], bias=c["bias"],
              nonlinearity="relu" if c["relu"] else "tanh")
    ref_outs, ref_hn, ref_cn = ref_forward(c["kind"], sd, [x.astype(np.float64) for x in xs],
                                           h0, c0 if c["kind"] == "LSTM" else None, **kw)
    outs, st_ = run_crnn(m, c, xs, hx)
    tol = dict(rtol=2e-5, atol=2e-5) if c["dtype"] == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for a, b in zip(outs, ref_outs):
        np.testing.assert_allclose(a, b, **tol)
    hn = st_[0] if c["kind"] == "LSTM" else st_
    np.testing.assert_allclose(hn, ref_hn, **tol)
    if c["kind"] == "LSTM":
        np.testing.assert_allclose(st_[1], ref_cn, **tol)

    # gradients of L = sum(out * g) in float64, against the reference
    if c["dtype"] != np.float64:
        return
    gs = [rng.standard_normal(o.shape) for o in ref_outs]

    def ref_loss(sd_):
        o, _, _ = ref_forward(c["kind"], sd_, xs, h0, c0 if c["kind"] == "LSTM" else None, **kw)
        return sum(float((a * g).sum()) for a, g in zip(o, gs))
    m.train()
    m.zero_grad()
    outs, _ = run_crnn(m, c, xs, hx)
    if c["packed"]:
        # the packed output's gradient: the same rows, packed
        grad = pack_sequence(gs, enforce_sorted=False).data
        out, _ = m(pack_sequence(xs, enforce_sorted=False), hx)
        m.backward(out._replace(data=grad))
    else:
        g = np.stack(gs, 1)
        m.backward(g.transpose(1, 0, 2) if m.batch_first else g)
    names = [n for n, _ in m.named_parameters()]
    for _ in range(4):
        name = names[int(rng.integers(len(names)))]
        arr = sd[name]
        idx = tuple(int(rng.integers(s)) for s in arr.shape)
        old = arr[idx]
        arr[idx] = old + 1e-6
        up = ref_loss(sd)
        arr[idx] = old - 1e-6
        down = ref_loss(sd)
        arr[idx] = old
        num = (up - down) / 2e-6
        got = dict(m.named_parameters())[name].grad[idx]
        assert abs(num - got) <= 1e-6 * max(1.0, abs(num)), (name, idx, num, got)
