"""ONNX in and out, without torch (needs ``pip install onnx``).

    crnn.onnx.export(module, "model.onnx", initial_state=False, lengths=False)
    model = crnn.onnx.load("model.onnx")   # an OnnxModel: its crnn modules, callable

**export** writes a crnn layer (``RNN``, ``LSTM``, ``GRU``) or cell
(``RNNCell``, ``LSTMCell``, ``GRUCell``) as an ONNX model with dynamic batch
and sequence axes. A layer's graph takes ``input`` ((L, N, I), or (N, L, I)
with ``batch_first``), with ``initial_state=True`` also ``h0`` (and ``c0``),
(D * num_layers, N, F), and with ``lengths=True`` the int32 ``lengths`` (N,)
of a padded batch (ONNX ``sequence_lens``); it gives ``output``, ``h_n``
(and ``c_n``) — with ``lengths``, the output is zero past each sequence's
end, as ``pad_packed_sequence`` pads it. A cell's graph takes ``input``
(N, I) (and ``h0``, ``c0``) and gives ``h1`` (and ``c1``). Layers are ONNX
RNN / LSTM / GRU nodes (gates reordered from torch's: LSTM i,f,g,o to
i,o,f,c; GRU r,z,n to z,r,h with ``linear_before_reset=1``); an LSTM with
``proj_size``, which has no ONNX operator, is a ``Scan`` over its steps.

**load** reads a graph of ONNX RNN / LSTM / GRU nodes and the glue that
``torch.onnx.export`` writes around them, and returns an ``OnnxModel``: the
ordered crnn modules, one per recurrent node (``model[0]``...), and a
callable that runs the whole graph on them (``outputs = model(x, h0)``).
What crnn cannot compute exactly is refused with an ``OnnxError`` naming
the node and attribute: peepholes, ``clip``, other activations,
``input_forget``, GRU ``linear_before_reset=0``, operators outside the
glue. What ``export`` writes loads back, the ``Scan`` of an LSTM with
projections included: that graph is read as a whole (the LSTM rebuilt
from its weights must export to the very same graph). External data is
read only from files inside the model's folder.
"""
try:
    import onnx  # noqa: F401
except ImportError as e:
    from .._extras import missing
    raise missing("crnn.onnx", "onnx", e) from e

from .._errors import OnnxError  # noqa: F401
from ._export import export
from ._load import OnnxModel, load

# OnnxError (importable from here too) is documented as crnn.OnnxError
__all__ = ["export", "load", "OnnxModel"]
