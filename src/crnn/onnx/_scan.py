"""crnn's own export of an LSTM with projections, read back.

ONNX's LSTM has no projection, so ``export`` writes such an LSTM as a
``Scan`` per layer-direction around glue (``_export._scan_layer``). Its
graph is not read node by node: the weights are taken from where the
exporter puts them, the LSTM is rebuilt from them and exported again, and
the two graphs must be the same, node for node and value for value. A
graph crnn did not write this way (or one changed since) is refused.
"""
from __future__ import annotations

import numpy as np
import onnx

from .._errors import OnnxError
from ..rnn import LSTM


def _producers(graph) -> dict:
    return {out: node for node in graph.node for out in node.output}


def _body_weights(scan, where):
    """(W_hh^T, W_hr^T): the names of the outer-scope weights a step reads,
    in the order the step uses them."""
    body = next((a.g for a in scan.attribute if a.name == "body"), None)
    if body is None:
        raise OnnxError(f"{where}: a Scan without a body")
    inner = {n for node in body.node for n in node.output} | {v.name for v in body.input}
    outer = [node.input[1] for node in body.node
             if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] not in inner]
    if len(outer) != 2:
        raise OnnxError(f"{where}: its step reads {len(outer)} weight matrices from the "
                        f"graph, the recurrent and the projection weights expected")
    return outer


def _layer_direction(scan, producers, values, where):
    """(reverse, W_ih^T, bias or None, W_hh^T, W_hr^T) of one Scan."""
    if len(scan.input) != 4:
        raise OnnxError(f"{where}: expected the inputs h, c, input gates and mask")
    node = producers.get(scan.input[2])
    reverse = node is not None and node.op_type == "ReverseSequence"
    if reverse:
        node = producers.get(node.input[0])
    bias = None
    if node is not None and node.op_type == "Add":
        bias = values.get(node.input[1])
        node = producers.get(node.input[0])
    if node is None or node.op_type != "MatMul" or node.input[1] not in values:
        raise OnnxError(f"{where}: its input gates are not x W_ih^T (+ b) of given weights")
    w_hh, w_hr = (values.get(n) for n in _body_weights(scan, where))
    if w_hh is None or w_hr is None:
        raise OnnxError(f"{where}: its step's weights are not given as initializers")
    return reverse, values[node.input[1]], bias, w_hh, w_hr


def load_projected_lstm(model: onnx.ModelProto, values: dict, where: str):
    """(the crnn LSTM, the function that runs the graph on it) for a graph
    that ``crnn.onnx.export`` wrote for an LSTM with ``proj_size``; an
    OnnxError otherwise."""
    from ._export import build
    g = model.graph
    producers = _producers(g)
    scans = [n for n in g.node if n.op_type == "Scan"]
    parts = [_layer_direction(s, producers, values, f"{where}, node {s.name!r}")
             for s in scans]
    D = 2 if any(p[0] for p in parts) else 1
    w_ih = parts[0][1]
    inputs = [v.name for v in g.input]
    first = g.input[0].type.tensor_type.shape.dim if g.input else []
    try:
        module = LSTM(
            w_ih.shape[0], parts[0][4].shape[0], len(scans) // D, bias=parts[0][2] is not None,
            batch_first=bool(first) and first[0].dim_param == "batch", bidirectional=D == 2,
            proj_size=parts[0][4].shape[1], dtype=w_ih.dtype).eval()
        sd = {}
        for i, (_, wi, b, wh, wr) in enumerate(parts):
            sfx = f"_l{i // D}" + ("_reverse" if i % D else "")
            sd.update({f"weight_ih{sfx}": wi.T, f"weight_hh{sfx}": wh.T,
                       f"weight_hr{sfx}": wr.T})
            if b is not None:
                # the graph holds bias_ih + bias_hh; -0.0 adds to any value exactly
                sd.update({f"bias_ih{sfx}": b, f"bias_hh{sfx}": np.full_like(b, -0.0)})
        module.load_state_dict(sd)
        again = build(module, initial_state="h0" in inputs, lengths="lengths" in inputs)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise OnnxError(f"{where}: not an LSTM as crnn exports it ({type(e).__name__}: "
                        f"{e})") from None
    if again.graph != g:
        raise OnnxError(f"{where}: not an LSTM with projections as crnn exports it (or "
                        f"changed since): crnn reads a Scan only there")
    return module, _runner(module, inputs)


def _runner(module, names):
    """The graph's function: the values of its inputs (input, h0, c0,
    lengths: those it takes) -> [output, h_n, c_n], the output zero past
    each sequence's length."""
    from ..utils.rnn import pack_padded_sequence, pad_packed_sequence

    def run(args):
        feeds = dict(zip(names, args))
        x, lengths = feeds["input"], feeds.get("lengths")
        state = (feeds["h0"], feeds["c0"]) if "h0" in feeds else None
        if lengths is None:
            out, (h, c) = module(x, state)
        else:
            L = np.shape(x)[1 if module.batch_first else 0]
            packed = pack_padded_sequence(x, np.asarray(lengths), module.batch_first,
                                          enforce_sorted=False)
            out, (h, c) = module(packed, state)
            out, _ = pad_packed_sequence(out, module.batch_first, total_length=L)
        return [out, h, c]
    return run
