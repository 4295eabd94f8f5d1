"""crnn.onnx.load on hostile and unsupported files: each refused with an
OnnxError that says why, nothing read outside the model's folder."""
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import crnn
import crnn.onnx
from crnn.onnx import OnnxError


@pytest.fixture
def lstm_model(tmp_path):
    """A valid exported LSTM (loaded as a ModelProto) and the path to save edits to."""
    crnn.onnx.export(crnn.LSTM(3, 4, seed=0), tmp_path / "ok.onnx")
    return onnx.load(str(tmp_path / "ok.onnx")), tmp_path / "bad.onnx"


def recurrent_node(model):
    return next(n for n in model.graph.node if n.op_type in ("RNN", "LSTM", "GRU"))


def refused(model, path, match):
    onnx.save(model, str(path))
    with pytest.raises(OnnxError, match=match):
        crnn.onnx.load(path)


def test_truncated_file(tmp_path):
    crnn.onnx.export(crnn.GRU(3, 4), tmp_path / "g.onnx")
    data = (tmp_path / "g.onnx").read_bytes()
    (tmp_path / "t.onnx").write_bytes(data[:len(data) // 2])
    with pytest.raises(OnnxError, match="not an ONNX model|no ONNX graph"):
        crnn.onnx.load(tmp_path / "t.onnx")


def test_random_file(tmp_path):
    (tmp_path / "r.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(OnnxError):
        crnn.onnx.load(tmp_path / "r.onnx")


def test_absurd_dimensions(lstm_model):
    model, path = lstm_model
    w = next(t for t in model.graph.initializer if t.name == recurrent_node(model).input[1])
    del w.dims[:]
    w.dims.extend([1 << 40, 1 << 40, 1 << 40])
    refused(model, path, "declares")


def test_weights_disagree_with_hidden_size(lstm_model):
    model, path = lstm_model
    node = recurrent_node(model)
    next(a for a in node.attribute if a.name == "hidden_size").i = 7
    refused(model, path, "hidden_size=7")


def test_two_gigabyte_initializer_in_a_small_file(lstm_model):
    model, path = lstm_model
    huge = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[1 << 29],
                       raw_data=b"\0" * 16)
    model.graph.initializer.append(huge)
    refused(model, path, "declares 2147483648 bytes, the tensor holds 16")
    assert os.path.getsize(path) < 10_000


def external(model, location, length=None):
    """The model's W made external data at location."""
    w = next(t for t in model.graph.initializer if t.name == recurrent_node(model).input[1])
    n = len(w.raw_data)
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length or n))):
        w.external_data.add(key=key, value=value)
    return n


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "sub/../../x.bin"])
def test_external_data_outside_the_folder(lstm_model, location):
    model, path = lstm_model
    external(model, location)
    refused(model, path, "outside the model's folder")


def test_external_data_through_a_symlink_out(lstm_model, tmp_path):
    model, path = lstm_model
    os.symlink("/etc/hostname", tmp_path / "link.bin")
    external(model, "link.bin")
    refused(model, path, "outside the model's folder")


def test_external_data_inside_the_folder_loads(lstm_model, tmp_path):
    model, path = lstm_model
    w = next(t for t in model.graph.initializer if t.name == recurrent_node(model).input[1])
    (tmp_path / "w.bin").write_bytes(w.raw_data)
    external(model, "w.bin")
    onnx.save(model, str(path))
    m = crnn.onnx.load(path)
    np.testing.assert_array_equal(m[0].weight_ih_l0.data, crnn.onnx.load(
        path.with_name("ok.onnx"))[0].weight_ih_l0.data)


def test_external_data_longer_than_its_file(lstm_model, tmp_path):
    model, path = lstm_model
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    external(model, "w.bin")
    refused(model, path, "external data of")


@pytest.mark.parametrize("attr,value,match", [
    ("clip", 3.0, "attribute clip"),
    ("input_forget", 1, "input_forget=1"),
    ("activations", ["Sigmoid", "Tanh", "Relu"], "attribute activations"),
    ("direction", "backward", "direction='backward'"),
    ("activation_alpha", [1.0], "activation_alpha"),
])
def test_unsupported_attributes(lstm_model, attr, value, match):
    model, path = lstm_model
    recurrent_node(model).attribute.append(helper.make_attribute(attr, value))
    refused(model, path, match)


def test_gru_linear_before_reset_0(tmp_path):
    crnn.onnx.export(crnn.GRU(3, 4), tmp_path / "g.onnx")
    model = onnx.load(str(tmp_path / "g.onnx"))
    next(a for a in recurrent_node(model).attribute if a.name == "linear_before_reset").i = 0
    refused(model, tmp_path / "bad.onnx", "linear_before_reset=0")


def test_operator_outside_the_glue(lstm_model):
    model, path = lstm_model
    model.graph.node.append(helper.make_node("Add", ["input", "input"], ["sum"], name="add1"))
    refused(model, path, "node 'add1' \\(Add\\): operator Add")


def test_weights_computed_in_the_graph(lstm_model):
    model, path = lstm_model
    node = recurrent_node(model)
    model.graph.node.insert(0, helper.make_node("Transpose", [node.input[1]], ["w_t"]))
    node.input[1] = "w_t"
    refused(model, path, "input W .* is computed in the graph")


def test_peepholes(lstm_model):
    model, path = lstm_model
    node = recurrent_node(model)
    while len(node.input) < 7:
        node.input.append("")
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 12), np.float32), "P"))
    node.input.append("P")
    refused(model, path, "peephole")


def test_import_crnn_leaves_onnx_alone():
    code = "import sys, crnn; assert 'onnx' not in sys.modules and 'crnn.onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_export_refuses_what_is_not_a_layer(tmp_path):
    with pytest.raises(TypeError, match="module: expected"):
        crnn.onnx.export(crnn.Linear(3, 4), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="lengths"):
        crnn.onnx.export(crnn.GRUCell(3, 4), tmp_path / "x.onnx", lengths=True)


def test_recurrent_node_without_R(lstm_model):
    model, path = lstm_model
    recurrent_node(model).input[2] = ""
    refused(model, path, "expected the inputs X, W, R")
