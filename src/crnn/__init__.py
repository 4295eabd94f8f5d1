"""crnn — fast recurrent layers for NumPy on the CPU, with torch.nn's API.

    >>> import numpy as np, crnn
    >>> rnn = crnn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(np.zeros((5, 3, 10), np.float32))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
"""
from . import io, optim, utils
from .io import load, save
from ._errors import (LayoutMismatchError, OnnxError, ParameterShapeError,
                      StateDictKeyError, UnsafeCheckpointError, UnsaveableError)
from ._module import Module, Parameter
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from ._random import manual_seed
from ._threads import get_num_threads, set_num_threads
from ._config import show_config
from ._determinism import (are_deterministic_algorithms_enabled, deterministic,
                           use_deterministic_algorithms)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .quantize import quantize
from ._frozen import Frozen, freeze

__version__ = "0.1.0"

__all__ = ["Module", "Parameter", "Linear", "MSELoss", "CrossEntropyLoss", "optim",
           "utils", "io", "save", "load", "RNN", "LSTM", "GRU", "RNNBase", "RNNCell",
           "LSTMCell", "GRUCell", "RNNCellBase", "manual_seed", "set_num_threads",
           "get_num_threads", "show_config", "__version__",
           "StateDictKeyError", "ParameterShapeError", "UnsafeCheckpointError",
           "UnsaveableError", "OnnxError", "LayoutMismatchError", "quantize", "freeze", "Frozen",
           "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "deterministic"]
