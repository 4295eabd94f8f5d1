"""Fuzz crnn's file readers: torch .pt (zip + pickle), .npz, .safetensors
and ONNX, starting from valid files.

    python tests/fuzz_readers.py READER [-runs=N] [libFuzzer flags...]

READER is torch, npz, safetensors or onnx. With atheris installed this is
a coverage-guided libFuzzer run over crnn's code (``-runs=N`` inputs; drop
``-runs`` to run until stopped, ``-max_total_time=3600`` for an hour);
without it, a hypothesis-driven mutation of the seed files (``-runs=N``
examples). A reader may refuse an input only with the exceptions it
documents (ValueError and its kin, below); any other exception, a crash
or a hang (``-timeout``, default 10 s) is a finding.
"""
import io
import os
import sys
import tempfile
import warnings

import numpy as np

try:      # crnn is imported under atheris's instrumentation (coverage)
    import atheris
except ImportError:
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["crnn", "zipfile", "pickle", "onnx"]):
        import crnn
        import crnn.onnx
else:
    import crnn
    import crnn.onnx

# what each reader may raise for a bad file
EXPECTED = {"torch": (ValueError, crnn.io.UnsafeCheckpointError), "npz": (ValueError,),
            "safetensors": (ValueError,), "onnx": (ValueError,)}
SUFFIX = {"torch": ".pt", "npz": ".npz", "safetensors": ".safetensors", "onnx": ".onnx"}


def seed_files(reader, folder):
    """Valid files for reader, as bytes: an LSTM and a GRU's state dicts,
    or for ONNX crnn's export of them and torch's export of an LSTM (the
    glue torch writes around recurrent nodes)."""
    import torch
    m = crnn.LSTM(3, 4, 2, bidirectional=True, batch_first=True, seed=0)
    g = crnn.GRU(2, 3, bias=False, seed=1)
    out = []
    for i, mod in enumerate((m, g, "torch")):
        path = os.path.join(folder, f"seed{i}{SUFFIX[reader]}")
        if reader == "onnx" and mod == "torch":
            torch.onnx.export(torch.nn.LSTM(2, 3, 2, batch_first=True), (torch.randn(1, 2, 2),),
                              path, dynamo=False, input_names=["input"],
                              dynamic_axes={"input": {0: "batch", 1: "seq"}})
        elif mod == "torch":
            continue
        elif reader == "torch":
            torch.save({k: torch.from_numpy(v) for k, v in mod.state_dict().items()}, path)
        elif reader == "onnx":
            crnn.onnx.export(mod, path, initial_state=True, lengths=bool(i))
        else:
            crnn.save(mod, path)
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def feeds_for(data):
    """Small arrays for the graph inputs an ONNX file declares (dynamic
    axes: 2), or None when it declares none of a readable shape."""
    import onnx
    from onnx import helper
    feeds = {}
    for v in onnx.ModelProto.FromString(data).graph.input:
        dims = [d.dim_value or 2 for d in v.type.tensor_type.shape.dim]
        if np.prod(dims) > 4096 or v.type.tensor_type.elem_type not in (1, 6, 11):
            return None
        dtype = helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)
        feeds[v.name] = np.ones(dims, dtype)
    return feeds


def load_and_run(path):
    """crnn.onnx.load, then the loaded graph run on small inputs."""
    model = crnn.onnx.load(path)
    with open(path, "rb") as f:
        feeds = feeds_for(f.read())
    if feeds is not None and set(feeds) == set(model.input_names):
        model(**feeds)


def make_target(reader, folder):
    """The function a fuzzer calls with one input's bytes."""
    path = os.path.join(folder, "input" + SUFFIX[reader])
    read = load_and_run if reader == "onnx" else crnn.load

    def target(data: bytes):
        with open(path, "wb") as f:
            f.write(data)
        try:
            read(path)
        except EXPECTED[reader]:
            pass
    return target


def run_atheris(target, seeds, folder, argv):
    corpus = os.path.join(folder, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
            f.write(s)
    atheris.Setup([sys.argv[0], "-timeout=10", "-rss_limit_mb=4096"] + argv + [corpus],
                  target)
    atheris.Fuzz()


def mutate(data, rng_data):
    """One of: flip bytes, truncate, insert, or overwrite with a random run."""
    from hypothesis import strategies as st
    data = bytearray(data)
    for _ in range(rng_data.draw(st.integers(1, 8))):
        op = rng_data.draw(st.sampled_from(["flip", "cut", "insert", "run"]))
        pos = rng_data.draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << rng_data.draw(st.integers(0, 7))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = rng_data.draw(st.binary(min_size=1, max_size=16))
        else:
            run = rng_data.draw(st.binary(min_size=1, max_size=32))
            data[pos:pos + len(run)] = run
    return bytes(data)


def run_hypothesis(target, seeds, runs):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=runs, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(seeds), st.data())
    def fuzz(seed, rng_data):
        target(mutate(seed, rng_data))
    fuzz()


def main(argv):
    reader, flags = argv[0], argv[1:]
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        seeds = seed_files(reader, folder)
        target = make_target(reader, folder)
        for s in seeds:              # the seeds themselves must read
            target(s)
        if atheris is None:
            runs = next((int(f[6:]) for f in flags if f.startswith("-runs=")), 1000)
            run_hypothesis(target, seeds, runs)
            print(f"hypothesis: {runs} mutated inputs for {reader}, no finding")
            return
        run_atheris(target, seeds, folder, flags)


if __name__ == "__main__":
    main(sys.argv[1:])
