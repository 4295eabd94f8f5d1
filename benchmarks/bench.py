"""crnn against torch and ONNX Runtime, side by side in one run.

Every case runs the same weights on the same inputs in crnn, torch (CPU)
and ONNX Runtime (inference only: the weights expressed as ONNX RNN / LSTM /
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
        G = GATES[self.kind] * self.H
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


def onnx_model(case, m):
    """The module as ONNX RNN/LSTM/GRU nodes, one per layer, with torch's
    gate blocks reordered to ONNX's (LSTM i,o,f,c; GRU z,r,h)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    D, H = (2 if case.bidirectional else 1), case.H
    order = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}[case.kind]
    sd = m.state_dict()

    def blocks(a):
        return np.concatenate([a[g * H:(g + 1) * H] for g in order])

    nodes, inits = [], []
    inp = "X"
    for k in range(case.layers):
        sfx = [f"_l{k}", f"_l{k}_reverse"][:D]
        W = np.stack([blocks(sd[f"weight_ih{s}"]) for s in sfx])
        R = np.stack([blocks(sd[f"weight_hh{s}"]) for s in sfx])
        B = np.stack([np.concatenate([blocks(sd[f"bias_ih{s}"]), blocks(sd[f"bias_hh{s}"])])
                      for s in sfx])
        for name, arr in (("W", W), ("R", R), ("B", B)):
            inits.append(numpy_helper.from_array(arr.astype(np.float32), f"{name}{k}"))
        attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
        if case.kind == "GRU":
            attrs["linear_before_reset"] = 1
        if case.kind == "RNN":
            attrs["activations"] = ["Tanh"] * D
        lens = "seq_lens" if case.lengths is not None else ""
        nodes.append(helper.make_node(case.kind, [inp, f"W{k}", f"R{k}", f"B{k}", lens],
                                      [f"Y{k}"], **attrs))
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
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


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
    have = {"crnn": True}
    for name, key in (("torch", "torch"), ("onnxruntime", "ort")):
        try:
            __import__(name)
            have[key] = True
        except ImportError:
            have[key] = False
    return have


def selected(args):
    return [c for c in grid(args.kinds.split(","), args.quick)
            if not args.modes or c.mode in args.modes.split(",")]


def worker(args):
    """One contender at one thread count over the selected cases, in this
    process: prints a JSON record of its medians and what it ran on."""
    threads, who = args.threads_one, args.worker
    crnn.set_num_threads(threads)
    info = {"threads": threads}
    if who == "crnn":
        cfg = crnn.show_config("dicts")
        info.update(isa=cfg["isa"], blas_kernel=(cfg["blas"] or {}).get("architecture"),
                    sgemm=sgemm_rate(threads))
    elif who == "torch":
        import torch
        torch.set_num_threads(threads)
        info.update(isa=torch.backends.cpu.get_cpu_capability())
    else:
        import onnxruntime
        info.update(isa=f"onnxruntime {onnxruntime.__version__} (its own)")
    rng = np.random.default_rng(0)
    budget = 0.05 if args.quick else args.budget / args.rounds
    times = {}
    for case in selected(args):
        if who == "ort" and case.training:
            continue
        m = getattr(crnn, case.kind)(case.I, case.H, case.layers,
                                     bidirectional=case.bidirectional, seed=0)
        x = inputs(case, rng)
        f = {"crnn": lambda: crnn_fn(case, m, x), "torch": lambda: torch_fn(case, m, x),
             "ort": lambda: ort_fn(case, m, x, threads)}[who]()
        times[case.name] = median_time(f, budget)
    print(json.dumps({"info": info, "times": times}))


def spawn(args, who, threads):
    """Run one contender's worker in a fresh process; its record."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if who == "torch" and os.environ.get("CRNN_ISA", "").strip() in ("avx2", "generic"):
        # hold torch to crnn's instruction set where torch allows it
        env.update(ATEN_CPU_CAPABILITY="avx2" if os.environ["CRNN_ISA"].strip() == "avx2"
                   else "default", ONEDNN_MAX_CPU_ISA="AVX2" if
                   os.environ["CRNN_ISA"].strip() == "avx2" else "SSE41")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", who, "--threads-one",
           str(threads), "--kinds", args.kinds, "--budget", str(args.budget),
           "--rounds", str(args.rounds)] + (["--modes", args.modes] if args.modes else []) + \
        (["--quick"] if args.quick else [])
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
        best, info = {}, {}
        for _ in range(args.rounds):       # the contenders take turns
            for who in who_all:
                rec = spawn(args, who, threads)
                info[who] = rec["info"]
                for name, t in rec["times"].items():
                    best[(who, name)] = min(best.get((who, name), float("inf")), t)
        rate = info["crnn"]["sgemm"]
        print(f"\n== {threads} thread(s); sgemm {rate:.0f} GFLOP/s; float32; "
              f"best of {args.rounds} medians, ms")
        for who in who_all:
            extra = f", OpenBLAS kernel {info[who]['blas_kernel']}" if who == "crnn" else ""
            print(f"   {who}: instruction set {info[who]['isa']}{extra}")
        print(f"{'case':44} {'crnn':>8} {'torch':>8} {'ort':>8} {'vs best':>8} "
              f"{'floor':>8} {'vs floor':>8}")
        for case in selected(args):
            t = {who: best[(who, case.name)] for who in who_all if (who, case.name) in best}
            peers = [v for k, v in t.items() if k != "crnn"]
            top = min(peers) if peers else None
            floor = case.flops() / (rate * 1e9)
            rec = dict(asdict(case), name=case.name, threads=threads, sgemm_gflops=rate,
                       floor_s=floor, isa={k: v["isa"] for k, v in info.items()},
                       **{f"{k}_s": v for k, v in t.items()})
            rec["vs_best_peer"] = t["crnn"] / top if top else None
            rec["vs_floor"] = t["crnn"] / floor
            records.append(rec)

            def ms(k):
                return f"{t[k] * 1e3:8.2f}" if k in t else f"{'-':>8}"
            vs = f"{rec['vs_best_peer']:8.2f}" if top else f"{'-':>8}"
            print(f"{case.name:44} {ms('crnn')} {ms('torch')} {ms('ort')} {vs} "
                  f"{floor * 1e3:8.2f} {rec['vs_floor']:8.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=platform.platform(), processor=platform.processor(),
                           records=records), f, indent=1)
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny cases, to prove it runs")
    ap.add_argument("--kinds", default="RNN,LSTM,GRU")
    ap.add_argument("--modes", help="only these (comma-separated): stream, batch, "
                    "train, packed, packed-train")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--budget", type=float, default=1.0,
                    help="seconds per contender and case (over all rounds)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="turns the contenders take on each case; each keeps its best median")
    ap.add_argument("--json", help="also write the records to this file")
    ap.add_argument("--worker", choices=["crnn", "torch", "ort"], help=argparse.SUPPRESS)
    ap.add_argument("--threads-one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
