"""The Python side of the R tests: the same call, run by Python crnn itself.

Usage: python reference.py DIR. DIR/spec.py holds a dict literal: the module
("kind", "kwargs"), its parameters and the call's arrays (each a file
DIR/<name>.bin of little-endian float64 in C order, its shape in the spec),
whether to train and run backward, and a packed batch's lengths. Writes each
result array the same way, and DIR/result.txt: one line "name dim1 dim2 ...".
Nothing here goes through the R package.
"""
import ast
import os
import sys

import numpy as np

import crnn
from crnn.utils.rnn import pack_padded_sequence, pad_packed_sequence

out_dir = sys.argv[1]
spec = ast.literal_eval(open(os.path.join(out_dir, "spec.py")).read())


def read(name, shape):
    a = np.fromfile(os.path.join(out_dir, name + ".bin"), dtype="<f8")
    return a.reshape(shape)   # C order: the R side wrote aperm(x)


arrays = {k: read(k, v) for k, v in spec["arrays"].items()}
results = {}


def keep(name, value):
    if value is not None:
        results[name] = np.asarray(value)


if spec.get("load"):   # a file written by R's crnn_save: its state dict, and check it runs
    state = crnn.load(os.path.join(out_dir, spec["load"]))
    for k, v in state.items():
        keep("loaded." + k, v)
    params = state
else:
    params = {k[len("param."):]: v for k, v in arrays.items() if k.startswith("param.")}

module = getattr(crnn, spec["kind"])(**spec["kwargs"])
if spec.get("quantize") and spec.get("load"):   # a quantized module's file
    module = crnn.quantize(module, spec["quantize"])
    module.load_state_dict(params)
elif spec.get("quantize"):
    module.load_state_dict(params)
    module = crnn.quantize(module, spec["quantize"])
else:
    module.load_state_dict(params)
    module.train(spec.get("train", False))
if spec.get("save"):   # a file for R's crnn_load: the state dict doubled
    crnn.save({k: 2 * v for k, v in module.state_dict().items()},
              os.path.join(out_dir, spec["save"]))

x = arrays["x"]
lengths = spec.get("lengths")
if lengths is not None:
    x = pack_padded_sequence(x, lengths, batch_first=spec["kwargs"].get("batch_first", False),
                             enforce_sorted=False)
h = arrays.get("h0")
hx = (h, arrays["c0"]) if "c0" in arrays else h
res = module(x, hx)
cell = spec["kind"].endswith("Cell")
if cell:
    out, state = None, res
else:
    out, state = res
if lengths is not None:
    keep("output.data", out.data)
    out, _ = pad_packed_sequence(out, batch_first=spec["kwargs"].get("batch_first", False))
keep("output", out)
if isinstance(state, tuple):
    keep("h_n", state[0])
    keep("c_n", state[1])
else:
    keep("h_n", state)

if spec.get("backward"):
    gstate = arrays.get("grad_h_n")
    if "grad_c_n" in arrays:
        gstate = (gstate, arrays["grad_c_n"])
    if cell:
        gx, gh = module.backward(gstate)
    else:
        gout = arrays["grad_output"]
        if lengths is not None:
            gout = pack_padded_sequence(gout, lengths, enforce_sorted=False,
                                        batch_first=spec["kwargs"].get("batch_first", False))
        gx, gh = module.backward(gout, gstate)
        if lengths is not None:
            gx = gx.data
    keep("grad_input", gx)
    if isinstance(gh, tuple):
        keep("grad_h0", gh[0])
        keep("grad_c0", gh[1])
    else:
        keep("grad_h0", gh)
    for name, p in module.named_parameters():
        keep("grad." + name, p.grad)

with open(os.path.join(out_dir, "result.txt"), "w") as f:
    for name, a in results.items():
        np.ascontiguousarray(a, dtype="<f8").tofile(os.path.join(out_dir, name + ".bin"))
        f.write(" ".join([name] + [str(d) for d in a.shape]) + "\n")
