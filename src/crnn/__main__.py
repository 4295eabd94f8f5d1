"""python -m crnn [info] — say which kernels (instruction set) and which BLAS
are in use, run the reference example, and time a forward and a backward
pass.
python -m crnn demo — train a GRU forecaster on a real series and plot it
(crnn.demo).
python -m crnn COMMAND --help — the options of a command."""
import argparse
import os
import sys
import time

import numpy as np

import crnn
from crnn import demo as demo_module


def best_of(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


COMMANDS = ("info", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its errors one line (exit status 2): the message
    and where the options are listed."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An option's value that must be an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, got {text!r}")
    return value


def plot_path(text: str) -> str:
    """The demo's --out: a file that can be written, in a format matplotlib
    writes (checked before any training)."""
    folder = os.path.dirname(os.path.abspath(text))
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"expected a file to write, got the folder {text!r}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"the folder {folder!r} is not writable")
    suffix = os.path.splitext(text)[1][1:].lower()
    try:
        from matplotlib.figure import Figure
        formats = Figure().canvas.get_supported_filetypes()
    except ImportError:   # no plot without matplotlib: any name will do
        return text
    if suffix and suffix not in formats:
        raise argparse.ArgumentTypeError(
            f"expected a file name ending in an image format matplotlib writes "
            f"({', '.join('.' + f for f in sorted(formats))}), got {text!r}")
    return text


def parser() -> argparse.ArgumentParser:
    """The command line: ``info`` (the default) and ``demo``, each with its
    own options and help."""
    ap = _Parser(prog="python -m crnn", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"crnn {crnn.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="{info,demo}",
                            title="commands (default: info)")
    info = sub.add_parser("info", help="kernels in use, the reference example, timings",
                          description="Say which kernels (instruction set) run, run the "
                                      "reference example and time a forward and a "
                                      "backward pass.")
    info.add_argument("--repeat", type=positive_int, default=5,
                      help="timing repetitions, best of (default 5)")
    demo = sub.add_parser("demo", help="train a GRU forecaster on monthly CO2 and plot it",
                          description=demo_module.__doc__.split("\n\n")[0])
    demo.add_argument("--epochs", type=positive_int, default=400,
                      help="training epochs (default 400)")
    demo.add_argument("--out", type=plot_path, default="crnn-demo.png",
                      help="the plot to write, a .png, .pdf, .svg, ... "
                           "(default crnn-demo.png)")
    demo.add_argument("--quick", action="store_true", help="a few epochs only (CI)")
    return ap


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["info", *argv]               # info is the default command
    args = parser().parse_args(argv)
    if args.command == "demo":
        figures = demo_module.run(epochs=20 if args.quick else args.epochs, out=args.out)
        if not args.quick and figures["one_step_rmse"] >= figures["naive_one_step_rmse"]:
            print("the GRU did not beat the naive forecast")
            return 1
        return 0
    crnn.show_config()
    reference_example()
    time_passes(args.repeat)
    return 0


def reference_example() -> None:
    """The README's reference call, forward and backward, with its shapes."""
    print("\nThe reference example: RNN(10, 20, 2, nonlinearity='relu', bidirectional=True)")
    m = crnn.RNN(10, 20, 2, nonlinearity="relu", bidirectional=True, seed=0)
    rng = np.random.default_rng(0)
    inp = rng.standard_normal((6, 30, 10)).astype(np.float32)
    hx = rng.standard_normal((4, 30, 20)).astype(np.float32)
    out, hn = m(inp, hx)
    print(f"  input {inp.shape}, h_0 {hx.shape} -> output {out.shape}, h_n {hn.shape}")
    grad_x, grad_h0 = m.backward(np.ones_like(out), np.zeros_like(hn))
    print(f"  backward -> grad_input {grad_x.shape}, grad_h_0 {grad_h0.shape}")


def time_passes(repeat: int) -> None:
    """Time a 2-layer RNN's inference, training forward and forward +
    backward on this machine (best of repeat)."""
    L, N, I, H, layers = 100, 32, 64, 256, 2
    print(f"\nTiming RNN({I}, {H}, num_layers={layers}) on (L={L}, N={N}, {I}) float32, "
          f"best of {repeat}:")
    rng = np.random.default_rng(0)
    rnn = crnn.RNN(I, H, layers, seed=0)
    x = rng.standard_normal((L, N, I)).astype(np.float32)
    g = np.ones((L, N, H), np.float32)
    rnn.eval()
    t_inf = best_of(lambda: rnn(x), repeat)
    rnn.train()
    t_fwd = best_of(lambda: rnn(x), repeat)

    def fwd_bwd():
        rnn(x)
        rnn.backward(g)
    t_both = best_of(fwd_bwd, repeat)
    flops = 2 * L * N * H * (I + H + (layers - 1) * (2 * H))
    print(f"  inference forward  {t_inf * 1e3:8.2f} ms  ({flops / t_inf / 1e9:5.1f} GFLOP/s)")
    print(f"  training forward   {t_fwd * 1e3:8.2f} ms")
    print(f"  forward + backward {t_both * 1e3:8.2f} ms  ({3 * flops / t_both / 1e9:5.1f} GFLOP/s)")


if __name__ == "__main__":
    sys.exit(main())
