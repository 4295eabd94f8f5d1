"""What crnn runs on: its kernels' instruction set and the CPU's best, the
mode (default or deterministic), and the BLAS it calls in the default mode:
SciPy's OpenBLAS (from scipy.linalg.cython_blas), its version, the kernel
it chose for this CPU and its thread count."""
from __future__ import annotations

import platform
import sys

import numpy as np

from . import _kernels
from ._threads import get_num_threads, scipy_openblas


def _blas() -> dict | None:
    """threadpoolctl's record of SciPy's OpenBLAS, its thread count now."""
    lib = scipy_openblas()
    if lib.info is None:
        return None
    info = {k: lib.info.get(k) for k in ("internal_api", "version", "architecture",
                                         "threading_layer", "filepath")}
    info["num_threads"] = lib.get_num_threads()
    return info


def config() -> dict:
    """The configuration as a dict (what ``show_config`` prints)."""
    import scipy
    return {
        "crnn": _kernels.version,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "isa": _kernels.isa_active(),
        "isa_best": _kernels.isa_best(),
        "isa_supported": list(_kernels.isa_supported()),
        "panel_width": {"float32": _kernels.panel_width(False),
                        "float64": _kernels.panel_width(True)},
        "threads": get_num_threads(),
        "deterministic": _kernels.is_deterministic(),
        "blas": _blas(),
    }


def show_config(mode: str = "stdout") -> dict | None:
    """Print what crnn runs on: the instruction set of its kernels (and
    the CPU's best; ``CRNN_ISA=avx2`` or ``generic`` forces a lower one),
    its threads, the mode (``crnn.use_deterministic_algorithms``) and the
    BLAS it calls in the default mode (SciPy's OpenBLAS: version, the
    kernel it chose for this CPU, its own thread count, which crnn holds
    to one thread during its calls). With ``mode="dicts"``, return the same
    as a dict instead."""
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode: expected 'stdout' or 'dicts', got {mode!r}")
    c = config()
    if mode == "dicts":
        return c
    forced = "" if c["isa"] == c["isa_best"] else f" (forced by CRNN_ISA; CPU's best: {c['isa_best']})"
    print(f"crnn {c['crnn']} on Python {c['python']}, NumPy {c['numpy']}, SciPy {c['scipy']}, "
          f"{c['machine']}")
    print(f"kernels: {c['isa']}{forced}; this CPU supports {', '.join(c['isa_supported'])}")
    print(f"threads: {c['threads']}")
    b = c["blas"]
    if c["deterministic"]:
        print("mode: deterministic (every product on crnn's own kernels; no BLAS call)")
    else:
        print("mode: default (the wide products over whole sequences on BLAS; "
              "crnn.use_deterministic_algorithms(True) for the same bits however a "
              "sequence is batched)")
    if b:
        print(f"BLAS: SciPy's {b['internal_api']} {b['version']}, kernel {b['architecture']}, "
              f"{b['threading_layer']}, {b['num_threads']} thread(s) of its own outside "
              f"crnn's calls (one inside), from {b['filepath']}")
    else:
        print("BLAS: SciPy's library not found by threadpoolctl (crnn calls it all the same)")
    return None
