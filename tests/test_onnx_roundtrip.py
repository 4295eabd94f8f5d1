"""Everything crnn.onnx.export writes, crnn.onnx.load reads back: every
layer kind and cell, an LSTM with projections (a Scan per layer-direction)
included, with and without initial states and lengths, float32 and
float64; the loaded model computes the exported module's numbers."""
import numpy as np
import pytest
from onnx import numpy_helper

import crnn
import crnn.onnx
from conftest import assert_close
from crnn.onnx import OnnxError
from crnn.utils.rnn import pack_padded_sequence, pad_packed_sequence

KINDS = ["RNN", "LSTM", "GRU", "LSTM-proj"]


def random_module(kind, rng, cell):
    I, H = int(rng.integers(1, 9)), int(rng.integers(2, 9))
    dtype = [np.float32, np.float64][int(rng.integers(2))]
    kw = dict(bias=bool(rng.integers(2)), dtype=dtype, seed=int(rng.integers(1 << 30)))
    name = kind.split("-")[0]
    if name == "RNN":
        kw["nonlinearity"] = str(rng.choice(["tanh", "relu"]))
    if cell:
        return getattr(crnn, name + "Cell")(I, H, **kw).eval()
    kw.update(num_layers=int(rng.integers(1, 4)), batch_first=bool(rng.integers(2)),
              bidirectional=bool(rng.integers(2)))
    if kind == "LSTM-proj":
        kw["proj_size"] = int(rng.integers(1, H))
    return getattr(crnn, name)(I, H, **kw).eval()


def states(m, rng, N, cell):
    S = () if cell else (m.num_directions * m.num_layers,)
    F = m.hidden_size if cell else (getattr(m, "proj_size", 0) or m.hidden_size)
    h = rng.standard_normal(S + (N, F)).astype(m.dtype)
    if "LSTM" not in type(m).__name__:
        return h, [h]
    c = rng.standard_normal(S + (N, m.hidden_size)).astype(m.dtype)
    return (h, c), [h, c]


def expected(m, x, state, lengths):
    if lengths is None:
        out, sn = m(x, state)
    else:
        L = x.shape[1 if m.batch_first else 0]
        out, sn = m(pack_padded_sequence(x, lengths, m.batch_first, enforce_sorted=False),
                    state)
        out, _ = pad_packed_sequence(out, m.batch_first, total_length=L)
    return [out] + (list(sn) if isinstance(sn, tuple) else [sn])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_exported_layer_loads_back(kind, seed, tmp_path):
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    m = random_module(kind, rng, cell=False)
    with_state, with_lengths = bool(rng.integers(2)), bool(rng.integers(2))
    crnn.onnx.export(m, tmp_path / "m.onnx", initial_state=with_state, lengths=with_lengths)
    loaded = crnn.onnx.load(tmp_path / "m.onnx")
    assert all(type(x).__name__ == type(m).__name__ for x in loaded)
    if kind == "LSTM-proj":
        assert repr(loaded[0]) == repr(m)
    N, L = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    x = rng.standard_normal((N, L, m.input_size) if m.batch_first else
                            (L, N, m.input_size)).astype(m.dtype)
    state, feeds = states(m, rng, N, cell=False) if with_state else (None, [])
    lengths = rng.integers(1, L + 1, N).astype(np.int32) if with_lengths else None
    got = loaded(x, *feeds, *([] if lengths is None else [lengths]))
    for g, w in zip(got, expected(m, x, state, lengths), strict=True):
        assert_close(g, w, repr(m))


@pytest.mark.parametrize("kind", KINDS[:3])
def test_exported_cell_loads_back(kind, tmp_path):
    rng = np.random.default_rng(KINDS.index(kind))
    m = random_module(kind, rng, cell=True)
    crnn.onnx.export(m, tmp_path / "c.onnx", initial_state=True)
    loaded = crnn.onnx.load(tmp_path / "c.onnx")
    x = rng.standard_normal((3, m.input_size)).astype(m.dtype)
    state, feeds = states(m, rng, 3, cell=True)
    got = loaded(x, *feeds)
    want = m(x, state)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,), strict=True):
        assert_close(g, w, repr(m))


def test_a_changed_projected_export_is_refused(tmp_path):
    """The Scan graph is read only as crnn writes it: a weight changed
    after the export (here one of the step's, inside no node crnn runs)
    or a node changed is refused, not computed otherwise."""
    import onnx
    m = crnn.LSTM(3, 6, proj_size=2, seed=0).eval()
    model = crnn.onnx.export(m, tmp_path / "p.onnx")
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    init = next(t for t in edited.graph.initializer if t.name.startswith("W_hr_T"))
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init)[:, :1], init.name))
    onnx.save(edited, str(tmp_path / "w.onnx"))
    with pytest.raises(OnnxError, match="not an LSTM"):
        crnn.onnx.load(tmp_path / "w.onnx")
    edited.CopyFrom(model)
    sig = next(n for n in edited.graph.node if n.op_type == "Scan")
    body = next(a for a in sig.attribute if a.name == "body").g
    next(n for n in body.node if n.op_type == "Tanh").op_type = "Relu"
    onnx.save(edited, str(tmp_path / "n.onnx"))
    with pytest.raises(OnnxError, match="not an LSTM with projections as crnn exports it"):
        crnn.onnx.load(tmp_path / "n.onnx")


class _Renamed(crnn.GRU):
    """A GRU by another name: the exporter reads the kind a module declares."""


@pytest.mark.parametrize("weights", ["int8", "bfloat16"])
def test_what_onnx_cannot_hold_is_refused_by_its_kind_not_its_name(weights, tmp_path):
    for m in (crnn.quantize(crnn.LSTM(3, 4), weights), crnn.quantize(crnn.GRUCell(3, 4), weights)):
        with pytest.raises(TypeError, match=f"{type(m).float_class.__name__}.*weights="
                           f"{weights}.*quantized weights.*export the float module"):
            crnn.onnx.export(m, tmp_path / "q.onnx")
    with pytest.raises(TypeError, match="expected a crnn RNN, LSTM, GRU .* got Linear"):
        crnn.onnx.export(crnn.Linear(3, 4), tmp_path / "l.onnx")
    m = _Renamed(3, 4, seed=0).eval()
    crnn.onnx.export(m, tmp_path / "r.onnx")
    loaded = crnn.onnx.load(tmp_path / "r.onnx")
    x = np.ones((2, 1, 3), np.float32)
    assert_close(loaded[0](x)[0], m(x)[0], "a renamed GRU")
