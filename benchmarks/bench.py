"""crnn against torch and ONNX Runtime, side by side in one run.

Every case runs the same weights on the same inputs in crnn (in its two
modes: the default one, whose products over whole sequences go to SciPy's
OpenBLAS, and the deterministic one, ``crnn-det``, every product on its own
kernels), torch (CPU) and ONNX Runtime (inference only: the weights expressed as ONNX RNN / LSTM /
GRU nodes, GRU with linear_before_reset=1), at 1 and 2 threads. Each
library runs in its own process (torch's OpenMP workers spin after a call
and slow whatever shares their process) with its thread count set, crnn
included; the contenders take turns over a few rounds and each keeps its
best median of back-to-back calls. The script prints each time, crnn's
ratio to the fastest peer and to the GEMM floor: the case's matrix-product
flops divided by the sgemm rate measured in the same run (a large sgemm of
NumPy's OpenBLAS at the same thread count), and which instruction set and
OpenBLAS kernel each process used. Peers that are not installed are left
out (``pip install .[bench]``).

With CRNN_ISA=avx2 (or generic) crnn runs that path, and torch is held to
AVX2 too (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2); ONNX Runtime
has no such switch and runs its best path.

    python benchmarks/bench.py                 # the full grid (several minutes)
    python benchmarks/bench.py --quick         # a smoke run (CI)
    python benchmarks/bench.py --json out.json --kinds LSTM --threads 1

With --serving it runs the quantized serving cases instead: crnn float32,
bfloat16 and int8 (``crnn.quantize``; left out where crnn has none) against
torch float32 and int8 dynamic (LSTM, GRU) and ONNX Runtime float32 and int8
(its DynamicQuantizeLSTM), each library and precision in its own process:
streaming at batch 1 (H = 256, 512, 1024), batch inference (N = 32, 64),
cells and a layer called one frame at a time (the module's call, the call
of ``crnn.freeze(module)`` and the core's own time for the frame, at each
precision), then the models' sizes in memory and on file, and the output
error of each quantized model against float32.

    python benchmarks/bench.py --serving       # the serving grid (3-4 minutes)
    python benchmarks/bench.py --serving --modes memory,accuracy   # no timing
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import crnn
from crnn.utils.rnn import pack_padded_sequence

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


@dataclass
class Case:
    kind: str
    mode: str            # stream | batch | train | packed | packed-train
    N: int
    L: int
    I: int
    H: int
    layers: int = 1
    bidirectional: bool = False
    lengths: list = field(default=None, repr=False)

    @property
    def training(self):
        return self.mode in ("train", "packed-train")

    @property
    def name(self):
        d = "bi" if self.bidirectional else "uni"
        return f"{self.kind} {self.mode} N={self.N} L={self.L} H={self.H} {self.layers}L {d}"

    def flops(self):
        """Matrix-product flops: input projections and recurrent products of
        every layer-direction over the real steps; training adds backward's
        (dx, dW_ih, dW_hh and the recurrent dh: twice the forward)."""
        D = 2 if self.bidirectional else 1
        rows = sum(self.lengths) if self.lengths is not None else self.N * self.L
        G = GATES[self.kind.removesuffix("Cell")] * self.H
        f = sum(2 * rows * G * ((self.I if k == 0 else D * self.H) + self.H) * D
                for k in range(self.layers))
        return 3 * f if self.training else f


def grid(kinds, quick):
    """The cases, per kind."""
    rng = np.random.default_rng(0)

    def skewed(N, L):
        lengths = np.maximum(1, (L * rng.random(N) ** 3).astype(int))
        lengths[0] = L
        return sorted(lengths.tolist(), reverse=True)

    cases = []
    for kind in kinds:
        if quick:
            cases += [Case(kind, "stream", 1, 20, 16, 32),
                      Case(kind, "batch", 8, 10, 16, 32, 2, True),
                      Case(kind, "train", 8, 10, 16, 32),
                      Case(kind, "packed", 8, 12, 16, 32, lengths=skewed(8, 12))]
            continue
        cases += [Case(kind, "stream", 1, 100, 64, H) for H in (64, 128, 256, 512)]
        cases += [Case(kind, "batch", 64, 100, 256, 256),
                  Case(kind, "batch", 64, 100, 256, 512),
                  Case(kind, "batch", 32, 100, 512, 512, 2, True),
                  Case(kind, "batch", 32, 50, 1024, 1024),
                  Case(kind, "train", 32, 100, 256, 256),
                  Case(kind, "train", 32, 50, 512, 512, 1, True),
                  Case(kind, "packed", 64, 200, 128, 256, lengths=skewed(64, 200)),
                  Case(kind, "packed-train", 64, 200, 128, 256, lengths=skewed(64, 200))]
    return cases


def median_time(f, budget, max_repeat=100, min_repeat=3):
    """Median wall time of f() over repeats (back to back, as a server
    calls; up to max_repeat of them), within ~budget seconds."""
    f()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeat and (len(times) < min_repeat or
                                       time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- the contenders -----------------------------------------------------------
def inputs(case, rng):
    x = rng.standard_normal((case.L, case.N, case.I)).astype(np.float32)
    if case.lengths is not None:
        for n, ln in enumerate(case.lengths):
            x[ln:, n] = 0
    return x


def crnn_fn(case, m, x):
    if case.lengths is not None:
        x = pack_padded_sequence(x, case.lengths)
    if not case.training:
        m.eval()
        return lambda: m(x)
    m.train()
    out, _ = m(x)
    g = np.ones(out.data.shape if case.lengths is not None else out.shape, np.float32)
    if case.lengths is not None:
        g = out._replace(data=g)

    def step():
        m(x)
        m.backward(g)
    return step


def torch_twin(case, m, x):
    """(torch module with m's weights, x as a torch tensor or PackedSequence)."""
    import torch
    if case.kind.endswith("Cell"):
        t = getattr(torch.nn, case.kind)(case.I, case.H)
    else:
        t = getattr(torch.nn, case.kind)(case.I, case.H, case.layers,
                                         bidirectional=case.bidirectional)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    xt = torch.from_numpy(x)
    if case.lengths is not None:
        xt = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(case.lengths))
    return t, xt


def torch_fn(case, m, x):
    import torch
    t, xt = torch_twin(case, m, x)
    if not case.training:
        t.eval()

        def run():
            with torch.inference_mode():
                t(xt)
        return run

    def step():
        out, _ = t(xt)
        data = out.data if case.lengths is not None else out
        t.zero_grad()
        data.sum().backward()
    return step


def onnx_weights(case, m, k=0):
    """W, R, B of layer k (directions stacked) with torch's gate blocks
    reordered to ONNX's (LSTM i,o,f,c; GRU z,r,h); a cell is one layer."""
    D, H = (2 if case.bidirectional else 1), case.H
    kind = case.kind.removesuffix("Cell")
    order = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}[kind]
    sd = m.state_dict()
    sfx = [""] if kind != case.kind else [f"_l{k}", f"_l{k}_reverse"][:D]

    def blocks(a):
        return np.concatenate([a[g * H:(g + 1) * H] for g in order])

    W = np.stack([blocks(sd[f"weight_ih{s}"]) for s in sfx])
    R = np.stack([blocks(sd[f"weight_hh{s}"]) for s in sfx])
    B = np.stack([np.concatenate([blocks(sd[f"bias_ih{s}"]), blocks(sd[f"bias_hh{s}"])])
                  for s in sfx])
    return [a.astype(np.float32) for a in (W, R, B)]


def onnx_attrs(case):
    D = 2 if case.bidirectional else 1
    attrs = dict(hidden_size=case.H, direction="bidirectional" if D == 2 else "forward")
    if case.kind.startswith("GRU"):
        attrs["linear_before_reset"] = 1
    if case.kind.startswith("RNN"):
        attrs["activations"] = ["Tanh"] * D
    return attrs


def onnx_model(case, m):
    """The module as ONNX RNN/LSTM/GRU nodes, one per layer."""
    from onnx import TensorProto, helper, numpy_helper
    D, H = (2 if case.bidirectional else 1), case.H
    nodes, inits = [], []
    inp = "X"
    for k in range(case.layers):
        for name, arr in zip("WRB", onnx_weights(case, m, k)):
            inits.append(numpy_helper.from_array(arr, f"{name}{k}"))
        lens = "seq_lens" if case.lengths is not None else ""
        nodes.append(helper.make_node(case.kind, [inp, f"W{k}", f"R{k}", f"B{k}", lens],
                                      [f"Y{k}"], **onnx_attrs(case)))
        # Y (L, D, N, H) -> (L, N, D*H)
        nodes.append(helper.make_node("Transpose", [f"Y{k}"], [f"T{k}"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"T{k}", "shape3"], [f"O{k}"]))
        inp = f"O{k}"
    inits.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "shape3"))
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [case.L, case.N, case.I])]
    if case.lengths is not None:
        graph_inputs.append(helper.make_tensor_value_info("seq_lens", TensorProto.INT32, [case.N]))
    graph = helper.make_graph(nodes, "rnn", graph_inputs,
                              [helper.make_tensor_value_info(inp, TensorProto.FLOAT,
                                                             [case.L, case.N, D * H])],
                              inits)
    return onnx_finish(graph)


def onnx_finish(graph):
    import onnx
    from onnx import helper
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def onnx_step_model(case, m):
    """A cell as one ONNX node run for one time step: X (1, 1, I) and the
    state H0 (C0) in, the new state Hn (Cn) out, each (1, 1, H)."""
    from onnx import TensorProto, helper, numpy_helper
    lstm = case.kind.startswith("LSTM")
    states = ["H", "C"] if lstm else ["H"]
    inits = [numpy_helper.from_array(a, n) for n, a in zip("WRB", onnx_weights(case, m))]
    node = helper.make_node(case.kind.removesuffix("Cell"),
                            ["X", "W", "R", "B", ""] + [f"{s}0" for s in states],
                            [""] + [f"{s}n" for s in states], **onnx_attrs(case))

    def info(name, *shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
    graph = helper.make_graph([node], "step", [info("X", 1, 1, case.I)] +
                              [info(f"{s}0", 1, 1, case.H) for s in states],
                              [info(f"{s}n", 1, 1, case.H) for s in states], inits)
    return onnx_finish(graph)


def ort_fn(case, m, x, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_model(case, m).SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    feed = {"X": x}
    if case.lengths is not None:
        feed["seq_lens"] = np.array(case.lengths, np.int32)
    ref = sess.run(None, feed)[0]
    m.eval()
    want = m(pack_padded_sequence(x, case.lengths) if case.lengths is not None else x)[0]
    if case.lengths is not None:
        want = crnn.utils.rnn.pad_packed_sequence(want)[0]
    assert np.allclose(ref, want, atol=1e-4), f"ONNX model of {case.name} disagrees"
    return lambda: sess.run(None, feed)


def sgemm_rate(threads):
    """GFLOP/s of a large sgemm of NumPy's OpenBLAS at this thread count
    (OMP_NUM_THREADS, which the parent sets for each worker)."""
    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    c = np.empty_like(a)
    best = float("inf")
    for _ in range(12):                       # the best of a dozen: the rate it can reach
        t0 = time.perf_counter()
        np.matmul(a, a, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def peers_available():
    have = {"crnn": True, "crnn-det": True}
    for name, key in (("torch", "torch"), ("onnxruntime", "ort")):
        try:
            __import__(name)
            have[key] = True
        except ImportError:
            have[key] = False
    return have


def selected(args):
    cases = (serving_grid if args.serving else grid)(args.kinds.split(","), args.quick)
    return [c for c in cases if not args.modes or c.mode in args.modes.split(",")]


def worker(args):
    """One contender at one thread count over the selected cases, in this
    process: prints a JSON record of its medians and what it ran on."""
    threads, who = args.threads_one, args.worker
    lib, prec = split_who(who)
    crnn.set_num_threads(threads)
    crnn.use_deterministic_algorithms(prec == "det")
    info = {"threads": threads}
    if lib in ("crnn", "frozen"):
        cfg = crnn.show_config("dicts")
        best = cfg["isa_best"]
        forced = "" if cfg["isa"] == best else f" (forced by CRNN_ISA; CPU's best {best})"
        blas = cfg["blas"] or {}
        info.update(isa=cfg["isa"] + forced, blas_kernel=blas.get("architecture"),
                    blas=f"SciPy's OpenBLAS {blas.get('version')} ({blas.get('architecture')})"
                    if not cfg["deterministic"] else "none (deterministic mode)")
        if not args.serving:
            info.update(sgemm=sgemm_rate(threads))
    elif lib == "torch":
        import torch
        torch.set_num_threads(threads)
        info.update(isa=torch.backends.cpu.get_cpu_capability())
        if prec == "int8":
            info["isa"] += f", quantized engine {torch.backends.quantized.engine}"
    else:
        import onnxruntime
        info.update(isa=f"onnxruntime {onnxruntime.__version__} (its own)")
    rng = np.random.default_rng(0)
    budget = 0.05 if args.quick else args.budget / args.rounds
    times = {}
    for case in selected(args):
        if args.serving:
            f = serving_contender(case, lib, prec, threads, rng, info, times)
            if f is not None:
                times[case.name] = median_time(f, budget)
            continue
        if who == "ort" and case.training:
            continue
        m = getattr(crnn, case.kind)(case.I, case.H, case.layers,
                                     bidirectional=case.bidirectional, seed=0)
        x = inputs(case, rng)
        f = {"crnn": lambda: crnn_fn(case, m, x), "torch": lambda: torch_fn(case, m, x),
             "ort": lambda: ort_fn(case, m, x, threads)}[lib]()
        times[case.name] = median_time(f, budget)
    print(json.dumps({"info": info, "times": times}))


def take_turns(args, who_all, threads):
    """The contenders take turns over the rounds, each in a fresh process:
    ({(who, case): its best median}, {who: what it ran on})."""
    best, info = {}, {}
    for _ in range(args.rounds):
        for who in who_all:
            rec = spawn(args, who, threads)
            info[who] = rec["info"]
            for name, t in rec["times"].items():
                best[(who, name)] = min(best.get((who, name), float("inf")), t)
    return best, info


def spawn(args, who, threads):
    """Run one contender's worker in a fresh process; its record."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    isa = os.environ.get("CRNN_ISA", "").strip()
    if split_who(who)[0] == "torch" and isa in ("avx2", "generic"):
        # hold torch to crnn's instruction set where torch allows it
        env.update(ATEN_CPU_CAPABILITY="avx2" if isa == "avx2" else "default",
                   ONEDNN_MAX_CPU_ISA="AVX2" if isa == "avx2" else "SSE41")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", who, "--threads-one",
           str(threads), "--kinds", args.kinds, "--budget", str(args.budget),
           "--rounds", str(args.rounds)] + (["--modes", args.modes] if args.modes else []) + \
        (["--quick"] if args.quick else []) + (["--serving"] if args.serving else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(args):
    have = peers_available()
    who_all = [k for k, v in have.items() if v]
    threads_list = [int(t) for t in args.threads.split(",")]
    records = []
    print(f"crnn {crnn.__version__}; {platform.processor() or platform.machine()}; "
          f"contenders: {', '.join(who_all)}, each in its own process")
    for threads in threads_list:
        best, info = take_turns(args, who_all, threads)
        rate = info["crnn"]["sgemm"]
        print(f"\n== {threads} thread(s); sgemm {rate:.0f} GFLOP/s; float32; "
              f"best of {args.rounds} medians, ms")
        for who in who_all:
            extra = f", BLAS {info[who]['blas']}" if who.startswith("crnn") else ""
            print(f"   {who}: instruction set {info[who]['isa']}{extra}")
        print(f"{'case':44} {'crnn':>8} {'crnn-det':>8} {'torch':>8} {'ort':>8} {'vs best':>8} "
              f"{'det/dflt':>8} {'floor':>8} {'vs floor':>8}")
        for case in selected(args):
            t = {who: best[(who, case.name)] for who in who_all if (who, case.name) in best}
            peers = [v for k, v in t.items() if not k.startswith("crnn")]
            top = min(peers) if peers else None
            floor = case.flops() / (rate * 1e9)
            rec = dict(asdict(case), name=case.name, threads=threads, sgemm_gflops=rate,
                       floor_s=floor, isa={k: v["isa"] for k, v in info.items()},
                       **{f"{k}_s": v for k, v in t.items()})
            rec["vs_best_peer"] = t["crnn"] / top if top else None
            rec["vs_floor"] = t["crnn"] / floor
            rec["det_vs_default"] = t["crnn-det"] / t["crnn"]
            records.append(rec)

            def ms(k):
                return f"{t[k] * 1e3:8.2f}" if k in t else f"{'-':>8}"
            vs = f"{rec['vs_best_peer']:8.2f}" if top else f"{'-':>8}"
            print(f"{case.name:44} {ms('crnn')} {ms('crnn-det')} {ms('torch')} {ms('ort')} {vs} "
                  f"{rec['det_vs_default']:8.2f} {floor * 1e3:8.2f} {rec['vs_floor']:8.2f}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=platform.platform(), processor=platform.processor(),
                           records=records), f, indent=1)
    return records


# -- serving: quantized inference side by side (--serving) --------------------
# Each contender is a library at one precision, in its own process like the
# others: crnn float32 / bfloat16 / int8 (crnn.quantize), torch float32 and
# int8 dynamic (torch.ao.quantization.quantize_dynamic: LSTM and GRU, none for
# the Elman RNN), ONNX Runtime float32 and int8 (quantize_dynamic of the LSTM
# node into DynamicQuantizeLSTM: ONNX Runtime quantizes no GRU or RNN node).
SERVING = ["crnn", "crnn-bf16", "crnn-int8", "frozen", "frozen-bf16", "frozen-int8",
           "torch", "torch-int8", "ort", "ort-int8"]
CRNN_DTYPE = {"bf16": "bfloat16", "int8": "int8"}      # crnn.quantize's names
TORCH_INT8 = ("LSTM", "GRU")                           # what torch quantizes
ORT_INT8 = ("LSTM",)                                   # what ONNX Runtime quantizes
SERVING_MODES = ("stream", "batch", "frame", "memory", "accuracy")


def split_who(who):
    """'torch-int8' -> ('torch', 'int8'); 'crnn' -> ('crnn', 'f32')."""
    lib, _, prec = who.partition("-")
    return lib, prec or "f32"


def crnn_quantizes():
    return hasattr(crnn, "quantize")


def serving_grid(kinds, quick):
    """Streaming at batch 1 (one call over L=100 steps), batch inference,
    and cells called one frame at a time (L frames per timed call)."""
    cases = []
    for kind in kinds:
        if quick:
            cases += [Case(kind, "stream", 1, 20, 16, 32)]
            cases += [Case(kind, "batch", 8, 10, 16, 32)] if kind != "RNN" else []
            continue
        cases += [Case(kind, "stream", 1, 100, 64, H) for H in (256, 512, 1024)]
        cases += [Case(kind, "batch", N, 100, 64, 512) for N in (32, 64)
                  if kind != "RNN"]
    # a frame at a time: cells, and a layer called one step per call
    cells = {"GRU": [(16, 64)] + ([] if quick else [(64, 256)]),
             "LSTM": [(64, 256)] + ([] if quick else [(64, 512, "layer")])}
    cases += [Case(k if c[2:] else f"{k}Cell", "frame", 1, 10 if quick else 200, *c[:2])
              for k in kinds for c in cells.get(k, [])]
    return cases


def serving_module(case):
    if case.kind.endswith("Cell"):
        return getattr(crnn, case.kind)(case.I, case.H, seed=0)
    return getattr(crnn, case.kind)(case.I, case.H, case.layers,
                                    bidirectional=case.bidirectional, seed=0)


def frames(step, x, L):
    """Call step(x_t, state) for t < L, the state carried; the last h."""
    s = None
    for t in range(L):
        s = step(x[t], s)
    return s[0] if isinstance(s, tuple) else s


def layer_step(m):
    """A layer called one step per call as a cell is: (x_t, state) -> state."""
    return lambda xt, s: m(xt[None], s)[1]


def crnn_serve(case, m, x, prec):
    """crnn at prec: a call returning the output (frame: the last h)."""
    m.eval()
    if prec != "f32":
        if not crnn_quantizes():
            return None
        m = crnn.quantize(m, dtype=CRNN_DTYPE[prec])
    if case.mode == "frame":
        step = m if case.kind.endswith("Cell") else layer_step(m)
        return lambda: frames(step, x, case.L)
    return lambda: m(x)[0]


def frozen_serve(case, m, x, prec, times):
    """crnn.freeze of the module at prec, a frame at a time, its state
    carried inside it (reset at the start of each timed call, as the others
    start from zeros); adds the core's own time for the same frames
    (``<case> core``: the weights packed, the core called back to back
    without the GIL through the shim's forward path, each call timed on
    perf_counter's clock: ``Direction.time_forward``, best of 3 medians)
    to times."""
    if case.mode != "frame" or not hasattr(crnn, "freeze"):
        return None
    m.eval()
    if prec != "f32":
        m = crnn.quantize(m, dtype=CRNN_DTYPE[prec])
    f = crnn.freeze(m)
    cell = case.kind.endswith("Cell")
    step = (lambda xt, s: f(xt)) if cell else (lambda xt, s: f(xt[None])[1])

    def run():
        f.reset()
        return frames(step, x, case.L)
    run()
    d = m._dirs[0]
    lstm = case.kind.startswith("LSTM")
    st = [np.zeros((1, case.H), np.float32) for _ in range(2 if lstm else 1)] + [None]
    sn = [np.empty((1, case.H), np.float32) for _ in range(2 if lstm else 1)] + [None]
    out = None if cell else np.empty((1, 1, case.H), np.float32)
    core = min(d.time_forward(2000, crnn._kernels.Batch(1, 1), x[:1], st[0], st[1], out,
                              sn[0], sn[1], use_packed=True) for _ in range(3))
    times[f"{case.name} core"] = core * case.L
    return run


def torch_int8(t):
    """torch's int8 dynamic quantization of t (quantize_dynamic swaps only a
    module's children, so t goes in a box)."""
    import torch
    box = torch.nn.Module()
    box.m = t
    nn = torch.nn
    q = torch.ao.quantization.quantize_dynamic(
        box, {nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell}, dtype=torch.qint8).m
    assert "quantized" in type(q).__module__, f"torch left {type(q).__name__} float"
    return q


def torch_serve(case, m, x, prec):
    import torch
    if prec == "int8" and case.kind.removesuffix("Cell") not in TORCH_INT8:
        return None
    t, xt = torch_twin(case, m, x)
    t.eval()
    if prec == "int8":
        t = torch_int8(t)

    step = t if case.kind.endswith("Cell") else layer_step(t)

    def run():
        with torch.inference_mode():
            y = frames(step, xt, case.L) if case.mode == "frame" else t(xt)[0]
        return y.numpy()
    return run


def cpu_has_vnni():
    """Whether the CPU has VNNI (AVX-512 VNNI or AVX-VNNI): ONNX Runtime's int8
    kernels sum u8 x s8 pairs in int16 without it, which saturates unless
    the weights are quantized to 7 bits (reduce_range)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split("\n\n")[0].split())
    except OSError:
        return True     # not Linux: ONNX Runtime's documented default
    return bool(flags & {"avx512_vnni", "avx_vnni"}) or platform.machine() not in (
        "x86_64", "AMD64")


def ort_int8(model):
    """(ONNX Runtime's int8 dynamic quantization of the LSTM nodes of model,
    the op types of the result). As its documentation says for the CPU at
    hand: ``reduce_range=True`` on x86-64 without VNNI (measured on an
    AVX2-only EPYC, LSTM H=256: relative error 0.12 without, 0.012 with, at
    the same speed)."""
    import logging
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)     # its "run pre-processing" advice
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "f32.onnx"), os.path.join(d, "int8.onnx")
        onnx.save(model, src)
        quantize_dynamic(src, dst, op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8,
                         reduce_range=not cpu_has_vnni())
        q = onnx.load(dst)
    return q, sorted({n.op_type for n in q.graph.node})


def ort_session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def ort_serve(case, m, x, threads, prec, notes):
    if prec == "int8" and case.kind.removesuffix("Cell") not in ORT_INT8:
        return None
    model = onnx_step_model(case, m) if case.mode == "frame" else onnx_model(case, m)
    if prec == "int8":
        model, ops = ort_int8(model)
        if "DynamicQuantizeLSTM" not in ops:
            notes.append(f"{case.name}: ONNX Runtime left the model float ({', '.join(ops)})")
    sess = ort_session(model, threads)
    if case.mode != "frame":
        return lambda: sess.run(None, {"X": x})[0]
    names = [i.name for i in sess.get_inputs()][1:]         # H0 (C0)

    def step(xt, s):
        s = s or [np.zeros((1, 1, case.H), np.float32)] * len(names)
        return tuple(sess.run(None, {"X": xt[None], **dict(zip(names, s))}))

    return lambda: frames(step, x, case.L).reshape(1, case.H)


def rel_error(y, ref):
    return float(np.linalg.norm(np.asarray(y, np.float64) - ref) / np.linalg.norm(ref))


def serving_contender(case, lib, prec, threads, rng, info, times):
    """The timed call of one contender on one serving case, after checking
    its output against crnn float32 (the same weights, the same input); None
    where the contender has no such model."""
    m = serving_module(case)
    x = inputs(case, rng)
    notes = info.setdefault("notes", [])
    f = {"crnn": lambda: crnn_serve(case, m, x, prec),
         "frozen": lambda: frozen_serve(case, m, x, prec, times),
         "torch": lambda: torch_serve(case, m, x, prec),
         "ort": lambda: ort_serve(case, m, x, threads, prec, notes)}[lib]()
    if f is None:
        return None
    ref = np.asarray(crnn_serve(case, m, x, "f32")(), np.float64)
    err = rel_error(f(), ref)
    info.setdefault("errors", {})[case.name] = err
    # float32 checks the harness (a wrong gate order is ~1) and crnn's own
    # int8 / bf16 its kernels (~1e-2); a peer's int8 accuracy on this CPU is
    # the peer's: reported beside the tables, never a failure of this run
    tol = 1e-4 if prec == "f32" else 0.1
    if lib == "crnn" or prec == "f32":
        assert err < tol, f"{lib} {prec} {case.name}: relative error {err:.2g} against crnn"
    elif err >= tol:
        notes.append(f"{lib} {prec} {case.name}: relative error {err:.2g} against crnn f32 "
                     f"(the peer's int8 on this CPU)")
    return f


def cpu_name():
    """The CPU's model name, family/model and the vector extensions that
    matter here (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read().split("\n\n")[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    get = {k.strip(): v.strip() for k, v in fields.items()}.get
    flags = set(get("flags", "").split())
    have = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni")
            if f in flags]
    return (f"{get('model name', '?')} (family {get('cpu family', '?')} model "
            f"{get('model', '?')}; {' '.join(have) or 'no AVX2'})")


def _ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b is not None else "—"


def serving_table(cases, best, threads, rounds):
    """Markdown tables of the timed serving cases, one per mode; records."""
    cols = [("crnn", "crnn f32"), ("crnn-bf16", "crnn bf16"), ("crnn-int8", "crnn int8"),
            ("torch", "torch f32"), ("torch-int8", "torch int8"),
            ("ort", "ORT f32"), ("ort-int8", "ORT int8")]
    records = []
    for mode in ("stream", "batch", "frame"):
        rows = [c for c in cases if c.mode == mode]
        if not rows:
            continue
        if mode == "frame":
            records += frame_table(rows, best, threads, rounds)
            continue
        unit, scale = ("µs per frame", 1e6) if mode == "frame" else ("ms per call", 1e3)
        print(f"\n**{mode}**, {threads} thread(s), {unit} (best of {rounds} medians); "
              f"ratios: >1 is crnn faster, target in brackets\n")
        print("| case | " + " | ".join(h for _, h in cols) + " | best f32 peer / crnn int8 "
              "(≥2) | best int8 peer / crnn int8 (>1) | crnn f32 / int8 | crnn f32 / bf16 "
              "(≥1.5 from H=512) | best f32 peer / best int8 peer |")
        print("|---" * (len(cols) + 6) + "|")
        for case in rows:
            t = {who: best.get((who, case.name)) for who, _ in cols}
            per = case.L if mode == "frame" else 1

            def least(*whos):
                v = [t[w] for w in whos if t[w] is not None]
                return min(v) if v else None
            f32_peer, int8_peer = least("torch", "ort"), least("torch-int8", "ort-int8")
            cells = [f"{t[w] * scale / per:.3g}" if t[w] is not None else "—" for w, _ in cols]
            ratios = [_ratio(f32_peer, t["crnn-int8"]), _ratio(int8_peer, t["crnn-int8"]),
                      _ratio(t["crnn"], t["crnn-int8"]), _ratio(t["crnn"], t["crnn-bf16"]),
                      _ratio(f32_peer, int8_peer)]
            name = (f"{case.kind}({case.I}, {case.H})" if mode == "frame" else
                    f"{case.kind} I={case.I} H={case.H} N={case.N} L={case.L}")
            print(f"| {name} | " + " | ".join(cells + ratios) + " |")
            records.append(dict(asdict(case), name=case.name, threads=threads,
                                **{f"{w}_s": v for w, v in t.items() if v is not None}))
    return records


def frame_table(rows, best, threads, rounds):
    """The frame cases: per precision the module's call, the frozen call
    (crnn.freeze) and the core's own time, then the peers; µs per frame."""
    cols = [("crnn", "module f32"), ("frozen", "frozen f32"), ("core", "core f32"),
            ("crnn-bf16", "module bf16"), ("frozen-bf16", "frozen bf16"),
            ("core-bf16", "core bf16"), ("crnn-int8", "module int8"),
            ("frozen-int8", "frozen int8"), ("core-int8", "core int8"),
            ("torch", "torch f32"), ("torch-int8", "torch int8"),
            ("ort", "ORT f32"), ("ort-int8", "ORT int8")]
    print(f"\n**frame**, {threads} thread(s), µs per frame (batch 1, one step per call, "
          f"the state carried; best of {rounds} medians); core: the C core's own time "
          f"for the frame, called back to back\n")
    print("| case | " + " | ".join(h for _, h in cols) + " | ORT f32 / frozen f32 (≥1.7) "
          "| frozen f32 − core (≤5) | frozen int8 − core (≤5) | module / frozen f32 |")
    print("|---" * (len(cols) + 5) + "|")
    records = []
    for case in rows:
        t = {}
        for who, _ in cols:
            if who.startswith("core"):
                src = who.replace("core", "frozen")
                t[who] = best.get((src, f"{case.name} core"))
            else:
                t[who] = best.get((who, case.name))
        us = {w: None if v is None else v * 1e6 / case.L for w, v in t.items()}
        cells = [f"{us[w]:.3g}" if us[w] is not None else "—" for w, _ in cols]

        def minus(a, b):
            return f"{us[a] - us[b]:.1f}" if us[a] is not None and us[b] is not None else "—"
        ratios = [_ratio(t["ort"], t["frozen"]), minus("frozen", "core"),
                  minus("frozen-int8", "core-int8"), _ratio(t["crnn"], t["frozen"])]
        name = (f"{case.kind}({case.I}, {case.H})" if case.kind.endswith("Cell") else
                f"{case.kind}({case.I}, {case.H}), one step per call")
        print(f"| {name} | " + " | ".join(cells + ratios) + " |")
        records.append(dict(asdict(case), name=case.name, threads=threads,
                            **{f"{w}_s": v for w, v in t.items() if v is not None}))
    return records


def _file_size(save, suffix):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model" + suffix)
        save(path)
        return os.path.getsize(path)


def _held_bytes(m):
    """What module m keeps in memory after a streaming call: its parameters
    (and gradients), and what its layers keep beside them (weights repacked
    for inference and the copy they came from, or the quantized packing)."""
    m(np.zeros((3, 1, m.input_size), np.float32))
    params = sum(p.data.nbytes + (0 if p.grad is None else p.grad.nbytes)
                 for p in m.parameters())
    return params + sum(d.nbytes for d in m._dirs)


def serving_memory():
    """Bytes of the parameters in memory and on file, float32 against int8
    and bfloat16: crnn (its state_dict's arrays; crnn.save's .npz and
    .safetensors), torch (torch.save of the state_dict) and ONNX Runtime
    (the .onnx model)."""
    import io

    import torch
    print("\n**model size**, bytes (f32 / this in brackets; targets: int8 ≥ 3.9×, "
          "bf16 ≥ 2×)\n")
    print("| model | library, precision | in memory | module holds | .npz | .safetensors "
          "| .pt / .onnx |")
    print("|---|---|---|---|---|---|---|")
    try:
        import safetensors  # noqa: F401
        have_st = True
    except ImportError:
        have_st = False
    for kind, proj in (("LSTM", 0), ("GRU", 0), ("LSTM", 128)):
        kw = {"proj_size": proj} if proj else {}
        m = getattr(crnn, kind)(64, 512, seed=0, **kw).eval()
        case = Case(kind, "stream", 1, 1, 64, 512)
        label = f"{kind}(64, 512{', proj_size=128' if proj else ''})"
        base = {}

        def row(who, sizes):
            cells = []
            for key, v in sizes.items():
                if v is None:
                    cells.append("—")
                    continue
                base.setdefault((who.split()[0], key), v)
                ref = base[(who.split()[0], key)]
                cells.append(f"{v:,}" + ("" if "f32" in who else f" ({ref / v:.2f}×)"))
            print(f"| {label} | {who} | " + " | ".join(cells) + " |")

        for prec in ("f32", "bf16", "int8"):
            if prec != "f32" and not crnn_quantizes():
                print(f"| {label} | crnn {prec} | not available | | | | |")
                continue
            q = m if prec == "f32" else crnn.quantize(m, dtype=CRNN_DTYPE[prec])
            mem = sum(np.asarray(v).nbytes for v in q.state_dict().values())
            row(f"crnn {prec}", {"mem": mem, "held": _held_bytes(q),
                                 "npz": _file_size(lambda p: crnn.save(q, p), ".npz"),
                                 "st": _file_size(lambda p: crnn.save(q, p), ".safetensors")
                                 if have_st else None, "file": None})
        t, _ = torch_twin(case, m, np.zeros((1, 1, 64), np.float32)) if not proj else \
            (torch.nn.LSTM(64, 512, proj_size=proj), None)
        if proj:
            t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
        for prec, tm in (("f32", t), ("int8", torch_int8(t))):
            buf = io.BytesIO()
            torch.save(tm.state_dict(), buf)
            try:
                with torch.inference_mode():
                    tm(torch.zeros(1, 1, 64))
                runs = ""
            except RuntimeError as e:     # torch 2.13's int8 LSTM with proj_size
                runs = f" (its forward fails: {str(e).splitlines()[0][:60]})"
            row(f"torch {prec}{runs}", {"mem": None, "held": None, "npz": None, "st": None,
                                        "file": len(buf.getvalue())})
        if proj:
            print(f"| {label} | ORT | — (ONNX's LSTM has no projection) | | | | |")
            continue
        model = onnx_model(case, m)
        row("ORT f32", {"mem": None, "held": None, "npz": None, "st": None,
                        "file": len(model.SerializeToString())})
        if kind in ORT_INT8:
            q, ops = ort_int8(model)
            note = "" if "DynamicQuantizeLSTM" in ops else " (left float!)"
            row(f"ORT int8{note}", {"mem": None, "held": None, "npz": None, "st": None,
                                    "file": len(q.SerializeToString())})
        else:
            print(f"| {label} | ORT int8 | — (no quantized {kind}) | | | | |")


def serving_accuracy():
    """Relative output error ‖y_q − y‖/‖y‖ against float32 of LSTM(64, 256)
    and GRU(64, 256) at torch's default init (seeded), over a random input
    of L=100, N=8."""
    import torch
    print("\n**accuracy**: ‖y − y_f32‖ / ‖y_f32‖, L=100 N=8, torch's default init "
          "(torch.manual_seed(0))\n")
    heads = ["crnn f32", "crnn bf16", "crnn int8", "torch int8", "ORT f32", "ORT int8"]
    print("| model | " + " | ".join(heads) + " |")
    print("|---" * (len(heads) + 1) + "|")
    x = np.random.default_rng(0).standard_normal((100, 8, 64)).astype(np.float32)
    for kind in ("LSTM", "GRU"):
        torch.manual_seed(0)
        t = getattr(torch.nn, kind)(64, 256).eval()
        with torch.inference_mode():
            y = t(torch.from_numpy(x))[0].numpy().astype(np.float64)
        m = getattr(crnn, kind)(64, 256).eval()
        m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
        err = {"crnn f32": rel_error(m(x)[0], y)}
        if crnn_quantizes():
            for prec in ("bf16", "int8"):
                err[f"crnn {prec}"] = rel_error(
                    crnn.quantize(m, dtype=CRNN_DTYPE[prec])(x)[0], y)
        with torch.inference_mode():
            err["torch int8"] = rel_error(torch_int8(t)(torch.from_numpy(x))[0].numpy(), y)
        case = Case(kind, "batch", 8, 100, 64, 256)
        model = onnx_model(case, m)
        err["ORT f32"] = rel_error(ort_session(model, 1).run(None, {"X": x})[0], y)
        if kind in ORT_INT8:
            q, _ = ort_int8(model)
            err["ORT int8"] = rel_error(ort_session(q, 1).run(None, {"X": x})[0], y)
        print(f"| {kind}(64, 256) | " +
              " | ".join(f"{err[h]:.2g}" if h in err else
                         ("not available" if h.startswith("crnn") else "—")
                         for h in heads) + " |")


def run_serving(args):
    """The serving cases: timed ones per thread count, then model sizes and
    accuracy (computed in this process, after every timed worker is done)."""
    have = peers_available()
    have["frozen"] = hasattr(crnn, "freeze")
    modes = args.modes.split(",") if args.modes else SERVING_MODES
    who_all = [w for w in SERVING if have[split_who(w)[0]]]
    print(f"crnn {crnn.__version__}; CPU: {cpu_name()}")
    isa = os.environ.get("CRNN_ISA", "").strip()
    print(f"CRNN_ISA={isa} (crnn's path forced; torch held to AVX2 where it is avx2)" if isa
          else "CRNN_ISA unset: crnn runs the CPU's best path")
    if not crnn_quantizes():
        print("crnn int8: not available; crnn bf16: not available (no crnn.quantize)")
        who_all = [w for w in who_all if w in ("crnn", "frozen") or
                   not w.startswith(("crnn", "frozen"))]
    if "frame" not in modes:     # crnn.freeze is timed on frames only
        who_all = [w for w in who_all if not w.startswith("frozen")]
    print(f"contenders: {', '.join(who_all)}, each in its own process")
    if have["ort"]:
        print(f"ONNX Runtime int8 quantized with reduce_range={not cpu_has_vnni()} "
              f"(its documentation's advice for a CPU {'with' if cpu_has_vnni() else 'without'} VNNI)")
    cases = selected(args)
    records = []
    for threads in [int(t) for t in args.threads.split(",")] if cases else []:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        best, info = take_turns(args, who_all, threads)
        print(f"\n### {threads} thread(s)\n")
        if load is not None:
            # others' work on the cores stalls a multi-threaded step at each sync
            print(f"- machine load (1-minute average) before / after: {load:.1f} / "
                  f"{os.getloadavg()[0]:.1f} (this run adds about {threads})")
        for who in who_all:
            print(f"- {who}: {info[who]['isa']}")
        for note in sorted({n for i in info.values() for n in i.get("notes", [])}):
            print(f"- note: {note}")
        worst = {who: max(i.get("errors", {}).values(), default=0) for who, i in info.items()}
        print("- largest output error against crnn f32 (same weights, same input): " +
              ", ".join(f"{who} {e:.1g}" for who, e in worst.items()))
        records += serving_table(cases, best, threads, args.rounds)
    if "memory" in modes and have["torch"] and have["ort"]:
        serving_memory()
    if "accuracy" in modes and have["torch"] and have["ort"]:
        serving_accuracy()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=platform.platform(), cpu=cpu_name(), records=records),
                      f, indent=1)
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny cases, to prove it runs")
    ap.add_argument("--kinds", default="RNN,LSTM,GRU")
    ap.add_argument("--modes", help="only these (comma-separated): stream, batch, "
                    "train, packed, packed-train")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--budget", type=float,
                    help="seconds per contender and case, over all rounds (default 1; "
                    "--serving: 0.5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="turns the contenders take on each case; each keeps its best median")
    ap.add_argument("--json", help="also write the records to this file")
    ap.add_argument("--serving", action="store_true",
                    help="the quantized serving cases instead (modes stream, batch, frame, "
                    "memory, accuracy): float32, bfloat16 and int8 side by side")
    ap.add_argument("--worker", choices=SERVING + ["crnn-det"], help=argparse.SUPPRESS)
    ap.add_argument("--threads-one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.budget is None:
        args.budget = 0.5 if args.serving else 1.0
    if args.worker:
        worker(args)
    elif args.serving:
        run_serving(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
