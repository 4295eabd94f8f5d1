"""The Parameters sections of the layers' and cells' docstrings: one
description per constructor argument; each class's section lists its own
arguments in the order of its signature."""
from __future__ import annotations

import inspect
import textwrap

_ARGUMENT_DOCS = {
    "input_size": ("int", "Features of the input, H_in."),
    "hidden_size": ("int", "Features of the hidden state h (with proj_size: of the LSTM's "
                    "cell state c)."),
    "num_layers": ("int, default 1", "Recurrent layers stacked: each reads the output of "
                   "the one before."),
    "nonlinearity": ('{"tanh", "relu"}, default "tanh"', "The activation of the Elman "
                     "recurrence."),
    "bias": ("bool, default True", "Whether the layers have the biases b_ih and b_hh."),
    "batch_first": ("bool, default False", "Input and output are (N, L, H) instead of "
                    "(L, N, H); the states never are."),
    "dropout": ("float, default 0.0", "Probability of zeroing an element of each layer's "
                "output but the last's, in training mode (the rest scaled by 1/(1-p))."),
    "bidirectional": ("bool, default False", "Run each layer forwards and backwards and "
                      "join the two outputs: D = 2."),
    "proj_size": ("int, default 0", "If > 0, h is projected to proj_size features by "
                  "weight_hr_l{k} (H_out = proj_size)."),
    "dtype": ("{np.float32, np.float64}, default np.float32", "The parameters' dtype; "
              "input is converted to it."),
    "seed": ("int, optional", "Seed of the initialisation and the dropout masks (else "
             "the generator crnn.manual_seed sets)."),
    "generator": ("numpy.random.Generator, optional", "Generator of the initialisation "
                  "and the dropout masks (not with seed)."),
}


def _document_arguments(cls) -> None:
    """Append a numpydoc Parameters section for cls's constructor."""
    if not cls.__doc__:   # python -OO
        return
    names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
    lines = ["Parameters", "----------"]
    for name in names:
        kind, text = _ARGUMENT_DOCS[name]
        lines += [f"{name} : {kind}", textwrap.fill(text, 72, initial_indent="    ",
                                                     subsequent_indent="    ")]
    section = textwrap.indent("\n".join(lines), "    ")
    cls.__doc__ = f"{cls.__doc__.rstrip()}\n\n{section}\n"

