"""Torch tensors and state dicts handed to crnn."""
import numpy as np
import torch

import crnn


def test_training_forward_copies_tensor_and_packed_inputs():
    from crnn.utils.rnn import pack_padded_sequence
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    g = rng.standard_normal((5, 3, 6)).astype(np.float32)
    ref = crnn.GRU(4, 6, seed=0)
    ref(x)
    ref.backward(g)
    m = crnn.GRU(4, 6, seed=0)
    t = torch.from_numpy(x.copy())
    m(t)
    t.zero_()
    m.backward(g)
    np.testing.assert_array_equal(m.flat_gradients, ref.flat_gradients)

    p = pack_padded_sequence(x.copy(), [5, 4, 2])
    ref2, m2 = crnn.LSTM(4, 6, seed=1), crnn.LSTM(4, 6, seed=1)
    out, _ = ref2(pack_padded_sequence(x, [5, 4, 2]))
    ref2.backward(out.data * 0 + 1)
    m2(p)
    p.data[:] = 0
    m2.backward(out.data * 0 + 1)
    np.testing.assert_array_equal(m2.flat_gradients, ref2.flat_gradients)


def test_bfloat16_torch_state_dict_loads():
    t = torch.nn.LSTM(3, 4).to(torch.bfloat16)
    m = crnn.LSTM(3, 4)
    m.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(m.weight_ih_l0.data, t.weight_ih_l0.float().detach().numpy())
