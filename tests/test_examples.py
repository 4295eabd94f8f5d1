"""The examples of the reference documents, run through crnn."""
import numpy as np

import crnn


def test_megengine_example_relu_bidirectional():
    m = crnn.RNN(10, 20, 2, batch_first=False, nonlinearity="relu", bias=True,
                 bidirectional=True)
    inp = np.random.randn(6, 30, 10).astype(np.float32)
    hx = np.random.randn(4, 30, 20).astype(np.float32)
    out, hn = m(inp, hx)
    assert out.shape == (6, 30, 40)
    assert hn.shape == (4, 30, 20)
    # relu outputs are non-negative; the last step of the forward half and
    # the first step of the reverse half are h_n of the top layer
    assert (out >= 0).all()
    np.testing.assert_array_equal(out[-1, :, :20], hn[2])
    np.testing.assert_array_equal(out[0, :, 20:], hn[3])


def test_torch_docs_example():
    rnn = crnn.RNN(10, 20, 2)
    output, hn = rnn(np.random.randn(5, 3, 10), np.random.randn(2, 3, 20))
    assert output.shape == (5, 3, 20) and hn.shape == (2, 3, 20)
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output[-1], hn[-1])


def test_study_notes_example_batch_first():
    rnn = crnn.RNN(input_size=10, hidden_size=20, num_layers=2, batch_first=True)
    inputs = np.random.randn(3, 5, 10)   # batch_size, seq_length, embedding_dim
    h0 = np.random.randn(2, 3, 20)       # D*num_layers, batch_size, hidden_size
    output, hn = rnn(inputs, h0)
    assert output.shape == (3, 5, 20) and hn.shape == (2, 3, 20)
    np.testing.assert_array_equal(output[:, -1], hn[-1])


def test_r_torch_example_tanh_range():
    rnn = crnn.RNN(10, 20, 2)
    out, hn = rnn(np.random.randn(5, 3, 10), np.random.randn(2, 3, 20))
    assert out.shape == (5, 3, 20) and hn.shape == (2, 3, 20)
    assert (np.abs(out) < 1).all()


def test_megengine_cell_examples():
    out = crnn.RNNCell(10, 20)(np.random.randn(3, 10), np.random.randn(3, 20))
    assert out.shape == (3, 20)
    hy, cy = crnn.LSTMCell(10, 20)(np.random.randn(3, 10),
                                   (np.random.randn(3, 20), np.random.randn(3, 20)))
    assert hy.shape == (3, 20) and cy.shape == (3, 20)


def test_megengine_lstm_example():
    m = crnn.LSTM(10, 20, 2, batch_first=False, bidirectional=True, bias=True)
    inp = np.random.randn(6, 30, 10).astype(np.float32)
    hx = np.random.randn(4, 30, 20).astype(np.float32)
    cx = np.random.randn(4, 30, 20).astype(np.float32)
    out, (hn, cn) = m(inp, (hx, cx))
    assert out.shape == (6, 30, 40) and hn.shape == (4, 30, 20) and cn.shape == (4, 30, 20)
    np.testing.assert_array_equal(out[-1, :, :20], hn[2])
    np.testing.assert_array_equal(out[0, :, 20:], hn[3])
