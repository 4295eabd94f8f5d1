"""crnn.onnx against real producers and consumers: ONNX Runtime runs what
crnn exports, torch.onnx.export's files load into crnn, and the ONNX
conformance cases for RNN / LSTM / GRU load and match or are refused."""
import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

import crnn
import crnn.onnx
from conftest import assert_close
from crnn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch_oracle import KINDS, random_state, state_parts, torch_twin

SEEDS = range(20)


def random_module(kind, rng, cell):
    """A random crnn layer or cell of kind, float32."""
    I, H = int(rng.integers(1, 17)), int(rng.integers(1, 17))
    kw = dict(bias=bool(rng.integers(2)), seed=int(rng.integers(1 << 30)))
    if kind == "RNN":
        kw["nonlinearity"] = str(rng.choice(["tanh", "relu"]))
    if cell:
        return getattr(crnn, kind + "Cell")(I, H, **kw).eval()
    kw.update(num_layers=int(rng.integers(1, 4)), batch_first=bool(rng.integers(2)),
              bidirectional=bool(rng.integers(2)))
    if kind == "LSTM" and H > 1 and rng.integers(2):
        kw["proj_size"] = int(rng.integers(1, H))
    return getattr(crnn, kind)(I, H, **kw).eval()


def crnn_reference(m, x, state, lengths):
    """crnn's outputs (output, *final states), padded with zeros past each
    sequence's length when lengths are given."""
    if lengths is None:
        out, sn = m(x, state)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=m.batch_first,
                                      enforce_sorted=False)
        out, sn = m(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=m.batch_first,
                                     total_length=x.shape[1 if m.batch_first else 0])
    return [out] + (state_parts(m, sn))


def run_layer_both(m, session, rng, N, with_state, with_lengths):
    L = int(rng.integers(1, 9))
    x = rng.standard_normal((N, L, m.input_size) if m.batch_first else
                            (L, N, m.input_size)).astype(np.float32)
    state = random_state(m, rng, N) if with_state else None
    lengths = rng.integers(1, L + 1, N).astype(np.int32) if with_lengths else None
    feeds = {"input": x}
    if with_state:
        feeds.update(zip(("h0", "c0"), state_parts(m, state)))
    if with_lengths:
        feeds["lengths"] = lengths
    return session.run(None, feeds), crnn_reference(m, x, state, lengths)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_export_layer_runs_in_onnxruntime(kind, seed, tmp_path):
    rng = np.random.default_rng([seed, KINDS.index(kind), 16])
    m = random_module(kind, rng, cell=False)
    with_state, with_lengths = bool(rng.integers(2)), bool(rng.integers(2))
    crnn.onnx.export(m, tmp_path / "m.onnx", initial_state=with_state, lengths=with_lengths)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for N in (int(rng.integers(1, 4)), int(rng.integers(4, 9))):   # dynamic batch
        got, want = run_layer_both(m, session, rng, N, with_state, with_lengths)
        assert len(got) == len(want)
        for g, w, name in zip(got, want, ("output", "h_n", "c_n")):
            assert_close(g, w, f"{m!r} N={N} {name}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(4))
def test_export_cell_runs_in_onnxruntime(kind, seed, tmp_path):
    rng = np.random.default_rng([seed, KINDS.index(kind), 17])
    m = random_module(kind, rng, cell=True)
    with_state = bool(seed % 2)
    crnn.onnx.export(m, tmp_path / "c.onnx", initial_state=with_state)
    session = ort.InferenceSession(str(tmp_path / "c.onnx"))
    for N in (1, int(rng.integers(2, 9))):
        x = rng.standard_normal((N, m.input_size)).astype(np.float32)
        state = random_state(m, rng, N) if with_state else None
        feeds = {"input": x}
        if with_state:
            feeds.update(zip(("h0", "c0"), state_parts(m, state)))
        want = state_parts(m, m(x, state))
        for g, w in zip(session.run(None, feeds), want):
            assert_close(g, w, f"{m!r} N={N}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_export_float64_runs_in_the_onnx_reference(kind, seed, tmp_path):
    """ONNX Runtime's RNN/LSTM/GRU kernels take float32 only; the onnx
    package's reference evaluator runs the float64 exports (its RNN knows
    no Relu: tanh here, relu is covered by ONNX Runtime above)."""
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng([seed, KINDS.index(kind), 19])
    cell = seed % 3 == 2
    m = random_module(kind, rng, cell)
    kw = {"nonlinearity": "tanh"} if kind == "RNN" else {}
    twin = type(m)(**{**config_of(m), **kw, "dtype": np.float64})
    twin.load_state_dict(m.state_dict())
    crnn.onnx.export(twin.eval(), tmp_path / "d.onnx", initial_state=True)
    N, L = int(rng.integers(1, 6)), int(rng.integers(1, 7))
    x = rng.standard_normal((N, twin.input_size) if cell else
                            (N, L, twin.input_size) if twin.batch_first else
                            (L, N, twin.input_size))
    state = random_state(twin, rng, N)
    feeds = {"input": x, **dict(zip(("h0", "c0"), state_parts(twin, state)))}
    want = state_parts(twin, twin(x, state)) if cell else crnn_reference(twin, x, state, None)
    for g, w in zip(ReferenceEvaluator(str(tmp_path / "d.onnx")).run(None, feeds), want):
        assert_close(g, w, repr(twin))


def config_of(m):
    """The constructor arguments of a crnn layer or cell."""
    kw = dict(input_size=m.input_size, hidden_size=m.hidden_size, bias=m.bias)
    if hasattr(m, "nonlinearity"):
        kw["nonlinearity"] = m.nonlinearity
    if isinstance(m, crnn.RNNBase):
        kw.update(num_layers=m.num_layers, batch_first=m.batch_first,
                  bidirectional=m.bidirectional)
        if m.proj_size:
            kw["proj_size"] = m.proj_size
    return kw


def test_export_is_checked_and_has_dynamic_axes(tmp_path):
    m = crnn.LSTM(3, 6, 2, proj_size=2, bidirectional=True, batch_first=True)
    model = crnn.onnx.export(m, tmp_path / "p.onnx", initial_state=True, lengths=True)
    onnx.checker.check_model(str(tmp_path / "p.onnx"), full_check=True)
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in model.graph.input]
    assert dims == [["batch", "seq", 3], [4, "batch", 2], [4, "batch", 6], ["batch"]]
    assert "Scan" in {n.op_type for n in model.graph.node}


# -- torch.onnx.export -> crnn.onnx.load -----------------------------------------
def torch_export(t, x, h0, path, batch_first):
    names = ["input"] + (["h0"] if h0 is not None else [])
    out_names = ["output", "h_n"] + (["c_n"] if isinstance(t, torch.nn.LSTM) else [])
    axes = {"input": {0: "batch", 1: "seq"} if batch_first else {0: "seq", 1: "batch"}}
    args = (x,) if h0 is None else (x, h0)
    with warnings.catch_warnings():     # torch's notes on batch sizes in RNN exports
        warnings.simplefilter("ignore")
        torch.onnx.export(t, args, str(path), dynamo=False, input_names=names,
                          output_names=out_names, dynamic_axes=axes)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_torch_export_loads_and_matches_torch(kind, seed, tmp_path):
    rng = np.random.default_rng([seed, KINDS.index(kind), 18])
    m = random_module(kind, rng, cell=False)
    if getattr(m, "proj_size", 0):     # torch cannot export projections
        m = getattr(crnn, kind)(m.input_size, m.hidden_size, m.num_layers, bias=m.bias,
                                batch_first=m.batch_first, bidirectional=m.bidirectional)
    t = torch_twin(m).eval()
    with_state = bool(rng.integers(2))

    def inputs(N, L):
        x = rng.standard_normal((N, L, m.input_size) if m.batch_first else
                                (L, N, m.input_size)).astype(np.float32)
        return x, (random_state(m, rng, N) if with_state else None)

    def to_torch(v):
        return None if v is None else torch.from_numpy(v)

    x, state = inputs(3, 4)
    h0 = None if state is None else tuple(map(to_torch, state_parts(m, state)))
    h0 = h0 if h0 is None or kind == "LSTM" else h0[0]
    torch_export(t, to_torch(x), h0, tmp_path / "t.onnx", m.batch_first)
    loaded = crnn.onnx.load(tmp_path / "t.onnx")
    assert len(loaded) == m.num_layers
    x, state = inputs(int(rng.integers(4, 9)), int(rng.integers(1, 9)))  # another N and L
    feeds = [x] + (state_parts(m, state) if with_state else [])
    got = loaded(*feeds)
    with torch.no_grad():
        hx = None if state is None else (tuple(map(to_torch, state)) if kind == "LSTM"
                                         else to_torch(state))
        out, sn = t(to_torch(x), hx)
    want = [out] + (list(sn) if kind == "LSTM" else [sn])
    for g, w, name in zip(got, want, ("output", "h_n", "c_n")):
        assert_close(g, w.numpy(), f"{m!r} {name}")


def test_crnn_export_loads_back(tmp_path):
    m = crnn.GRU(4, 5, 2, bidirectional=True, batch_first=True).eval()
    crnn.onnx.export(m, tmp_path / "g.onnx", initial_state=True, lengths=True)
    loaded = crnn.onnx.load(tmp_path / "g.onnx")
    assert [type(x).__name__ for x in loaded] == ["GRU", "GRU"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    h0 = rng.standard_normal((4, 3, 5)).astype(np.float32)
    lengths = np.array([6, 2, 4], np.int32)
    for g, w in zip(loaded(x, h0, lengths), crnn_reference(m, x, h0, lengths)):
        assert_close(g, w)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(4))
def test_reverse_nodes_load_and_match_onnxruntime(kind, seed, tmp_path):
    """A direction='reverse' node runs as a forward crnn layer over each
    sequence reversed within its length; ONNX Runtime is the oracle."""
    rng = np.random.default_rng([seed, KINDS.index(kind), 20])
    m = getattr(crnn, kind)(int(rng.integers(1, 9)), int(rng.integers(1, 9)),
                            bias=bool(seed % 2)).eval()
    model = crnn.onnx.export(m, tmp_path / "f.onnx", initial_state=True, lengths=True)
    node = next(n for n in model.graph.node if n.op_type == kind)
    next(a for a in node.attribute if a.name == "direction").s = b"reverse"
    onnx.save(model, str(tmp_path / "r.onnx"))
    N, L = int(rng.integers(1, 7)), int(rng.integers(1, 9))
    feeds = {"input": rng.standard_normal((L, N, m.input_size)).astype(np.float32),
             "lengths": rng.integers(1, L + 1, N).astype(np.int32)}
    feeds.update(zip(("h0", "c0"), state_parts(m, random_state(m, rng, N))))
    got = crnn.onnx.load(tmp_path / "r.onnx")(**feeds)
    for g, w in zip(got, ort.InferenceSession(str(tmp_path / "r.onnx")).run(None, feeds)):
        assert_close(g, w, f"{m!r} reversed")


# -- the ONNX conformance cases ------------------------------------------------
# refused, each for a reason crnn states (the rest load and must match)
REFUSED = {
    "test_lstm_with_peepholes": "input P (peepholes)",
    "test_gru_defaults": "linear_before_reset=0",
    "test_gru_seq_length": "linear_before_reset=0",
    "test_gru_with_initial_bias": "linear_before_reset=0",
    "test_gru_batchwise": "linear_before_reset=0",
    "test_gru_reverse": "linear_before_reset=0",
    "test_gru_bidirectional": "linear_before_reset=0",
}


def conformance_cases():
    """The node test cases that ship with onnx for RNN, LSTM and GRU, made
    by the package's own case generators (models and expected outputs):
    importing a case module runs its exports into the collected list."""
    import importlib

    from onnx.backend.test.case import node
    node._TargetOpType = None
    for op in ("rnn", "lstm", "gru"):
        importlib.import_module(f"onnx.backend.test.case.node.{op}")
    return {c.name: c for c in node._NodeTestCases
            if c.model.graph.node[0].op_type in ("RNN", "LSTM", "GRU")}


CASES = conformance_cases()


def with_bound_weights(case, path):
    """The case's model with its weight inputs (W, R, B, P) bound as
    initializers — crnn builds modules from constant weights; the
    remaining feeds."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    feeds = dict(zip([i.name for i in model.graph.input], case.data_sets[0][0]))
    for name in model.graph.node[0].input[1:]:
        if name in feeds and name not in ("sequence_lens", "initial_h", "initial_c"):
            model.graph.initializer.append(numpy_helper.from_array(feeds.pop(name), name))
    onnx.save(model, str(path))
    return feeds


def test_conformance_cases_are_all_seen():
    assert len(CASES) >= 18 and set(REFUSED) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_conformance_case(name, tmp_path):
    case = CASES[name]
    feeds = with_bound_weights(case, tmp_path / "m.onnx")
    if name in REFUSED:
        with pytest.raises(crnn.onnx.OnnxError, match=re.escape(REFUSED[name])):
            crnn.onnx.load(tmp_path / "m.onnx")
        return
    got = crnn.onnx.load(tmp_path / "m.onnx")(**feeds)
    got = got if isinstance(got, tuple) else (got,)
    expected = case.data_sets[0][1]
    assert len(got) == len(expected)
    for g, w in zip(got, expected):
        assert_close(g.astype(w.dtype), w, name)
