"""What a frame at a time costs above the core: batch-1 streaming calls.

For each case, one call per frame with the state carried (as
examples/streaming.py does), in eval mode:

- total: the module's call, median over repeats of back-to-back calls;
- core: the C core's own time for the same work, the shim's arrays
  prepared once and the core called back to back without the GIL
  (``Direction.time_forward``: forward's own code path run repeatedly,
  each core call timed, median);
- in call: the core's time inside those same module calls (the shim's
  ``core_clock``, mean): larger than ``core`` where the weights outgrow
  the L2 cache, as the Python between two calls evicts some of them.
  Both read Python's perf_counter clock around the core call only (the
  same clock on every platform);
- overhead = total - in call: Python, validation, allocation and the
  shim; (total - core: that and the core's slowdown in situ);
- frozen: the same frames through ``crnn.freeze(module)`` (weights packed
  once, its state carried inside it), and frozen - core: what is left
  above the core's time with the weights packed (``core packed``);
- torch: torch's module on the same frame and state, in inference mode,
  on one thread (as crnn runs a batch-1 step; torch's second thread only
  costs it time here), measured last (its worker threads would otherwise
  share the run).

    python benchmarks/frame_overhead.py [--quick]
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import timeit

import numpy as np

import crnn
from crnn import _kernels


def median_call(fn, calls: int, repeats: int) -> float:
    """Seconds per call of fn, median over repeats of ``calls`` calls."""
    fn()
    return statistics.median(t / calls for t in timeit.repeat(fn, number=calls,
                                                               repeat=repeats))


def cell_case(kind, I, H, batched, weights=None):
    """(module, step function carrying the state, core timer, torch maker);
    weights: "int8" or "bfloat16" for the cell crnn.quantize makes."""
    cell = getattr(crnn, kind)(I, H, seed=0).eval()
    if weights:
        cell = crnn.quantize(cell, weights)
    lstm = kind == "LSTMCell"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, I) if batched else (I,)).astype(np.float32)
    h = np.zeros((1, H) if batched else (H,), np.float32)
    state = [(h, h.copy()) if lstm else h]

    def step():
        state[0] = cell(x, state[0])

    def core(repeats, packed=False):
        s0 = [np.zeros((1, H), np.float32) for _ in range(2 if lstm else 1)] + [None]
        sn = [np.empty((1, H), np.float32) for _ in range(2 if lstm else 1)] + [None]
        return cell._dirs[0].time_forward(repeats, _kernels.Batch(1, 1), x.reshape(1, 1, I),
                                          s0[0], s0[1], None, sn[0], sn[1], use_packed=packed)
    frozen = crnn.freeze(cell)
    return cell, x, state, step, core, lambda: frozen(x)


def layer_case(kind, I, H):
    layer = getattr(crnn, kind)(I, H, seed=0).eval()
    lstm = kind == "LSTM"
    x = np.random.default_rng(0).standard_normal((1, 1, I)).astype(np.float32)
    h = np.zeros((1, 1, H), np.float32)
    state = [(h, h.copy()) if lstm else h]

    def step():
        _, state[0] = layer(x, state[0])

    def core(repeats, packed=False):
        s0 = [np.zeros((1, H), np.float32) for _ in range(2 if lstm else 1)] + [None]
        sn = [np.empty((1, H), np.float32) for _ in range(2 if lstm else 1)] + [None]
        out = np.empty((1, 1, H), np.float32)
        return layer._dirs[0].time_forward(repeats, _kernels.Batch(1, 1), x,
                                           s0[0], s0[1], out, sn[0], sn[1],
                                           use_packed=packed)
    frozen = crnn.freeze(layer)
    return layer, x, state, step, core, lambda: frozen(x)


CASES = [("GRUCell(16, 64) x (1, 16)", lambda: cell_case("GRUCell", 16, 64, True)),
         ("GRUCell(16, 64) x (16,)", lambda: cell_case("GRUCell", 16, 64, False)),
         ("LSTMCell(64, 256) x (1, 64)", lambda: cell_case("LSTMCell", 64, 256, True)),
         ("LSTMCell(64, 256) x (64,)", lambda: cell_case("LSTMCell", 64, 256, False)),
         ("GRUCell(16, 64) int8 x (1, 16)",
          lambda: cell_case("GRUCell", 16, 64, True, "int8")),
         ("LSTMCell(64, 256) int8 x (1, 64)",
          lambda: cell_case("LSTMCell", 64, 256, True, "int8")),
         ("GRU(16, 64) L=1 N=1", lambda: layer_case("GRU", 16, 64)),
         ("LSTM(64, 256) L=1 N=1", lambda: layer_case("LSTM", 64, 256))]


def torch_step(module, x, state):
    """torch's module with crnn's weights, stepping the same frame."""
    import torch
    torch.set_num_threads(1)
    kind = type(module).__name__.replace("Quantized", "")
    tm = getattr(torch.nn, kind)(module.input_size, module.hidden_size)
    if not hasattr(module, "weight_dtype"):   # a quantized one: torch's float, as a yardstick
        tm.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    xt = torch.from_numpy(x)
    ts = [tuple(torch.from_numpy(s) for s in state[0]) if isinstance(state[0], tuple)
          else torch.from_numpy(state[0])]
    cell = kind.endswith("Cell")

    def step():
        with torch.inference_mode():
            if cell:
                ts[0] = tm(xt, ts[0])
            else:
                _, ts[0] = tm(xt, ts[0])
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    args = ap.parse_args()
    calls, repeats = (200, 3) if args.quick else (5000, 9)
    rows, torch_steps = [], []
    for name, make in CASES:
        module, x, state, step, core, frozen = make()
        total = median_call(step, calls, repeats)
        _kernels.core_clock(True)
        median_call(step, calls, repeats)
        n, seconds = _kernels.core_clock(False)
        rows.append([name, total, core(calls * repeats), seconds / n,
                     median_call(frozen, calls, repeats), core(calls * repeats, True)])
        torch_steps.append((module, x, state))
    have_torch = importlib.util.find_spec("torch") is not None
    for row, (module, x, state) in zip(rows, torch_steps):
        row.append(median_call(torch_step(module, x, state), calls, repeats)
                   if have_torch else float("nan"))
    print(f"crnn {crnn.__version__}, kernels {_kernels.isa_active()}, "
          f"threads {crnn.get_num_threads()}; microseconds per call")
    print(f"{'case':34s} {'total':>7s} {'core':>7s} {'in call':>8s} {'overhead':>9s} "
          f"{'(-core)':>8s} {'frozen':>7s} {'core packed':>12s} {'(-core)':>8s} "
          f"{'torch':>7s}")
    for name, total, core_t, in_call, frozen_t, packed_t, torch_t in rows:
        print(f"{name:34s} {total * 1e6:7.2f} {core_t * 1e6:7.2f} {in_call * 1e6:8.2f} "
              f"{(total - in_call) * 1e6:9.2f} {(total - core_t) * 1e6:8.2f} "
              f"{frozen_t * 1e6:7.2f} {packed_t * 1e6:12.2f} "
              f"{(frozen_t - packed_t) * 1e6:8.2f} {torch_t * 1e6:7.2f}")


if __name__ == "__main__":
    main()
