"""What crnn runs on: its kernels' instruction set and the CPU's best; and,
for reference, NumPy's BLAS (OpenBLAS in NumPy's wheels) with the kernel it
chose for this CPU (the benchmarks' GEMM floor; crnn's own products do not
call it)."""
from __future__ import annotations

import platform
import sys

import numpy as np

from . import _kernels
from ._threads import get_num_threads


def _numpy_blas() -> dict:
    """threadpoolctl's record of the BLAS NumPy uses."""
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        path = info.get("filepath", "").replace("\\", "/")
        # NumPy's own copy (numpy.libs/ or numpy/.dylibs), not another's
        if info.get("user_api") == "blas" and ("numpy.libs" in path or "/numpy/" in path):
            return info
    return {}


def config() -> dict:
    """The configuration as a dict (what ``show_config`` prints)."""
    blas = _numpy_blas()
    return {
        "crnn": _kernels.version,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "isa": _kernels.isa_active(),
        "isa_best": _kernels.isa_best(),
        "isa_supported": list(_kernels.isa_supported()),
        "panel_width": {"float32": _kernels.panel_width(False),
                        "float64": _kernels.panel_width(True)},
        "threads": get_num_threads(),
        "blas": {k: blas.get(k) for k in ("internal_api", "version", "architecture",
                                          "num_threads", "filepath")} if blas else None,
    }


def show_config(mode: str = "stdout") -> dict | None:
    """Print which kernels crnn runs (the instruction set in use and the
    CPU's best; ``CRNN_ISA=avx2`` or ``generic`` forces a lower one) and,
    for reference, NumPy's BLAS with the kernel it chose for this CPU
    (crnn's products run on its own kernels and do not call it). With
    ``mode="dicts"``, return the same as a dict instead."""
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode: expected 'stdout' or 'dicts', got {mode!r}")
    c = config()
    if mode == "dicts":
        return c
    forced = "" if c["isa"] == c["isa_best"] else f" (forced by CRNN_ISA; CPU's best: {c['isa_best']})"
    print(f"crnn {c['crnn']} on Python {c['python']}, NumPy {c['numpy']}, {c['machine']}")
    print(f"kernels: {c['isa']}{forced}; this CPU supports {', '.join(c['isa_supported'])}")
    print(f"threads: {c['threads']}")
    b = c["blas"]
    if b:
        print(f"NumPy's BLAS (not called by crnn's kernels): {b['internal_api']} "
              f"{b['version']}, kernel {b['architecture']}, from {b['filepath']}")
    else:
        print("NumPy's BLAS: not found by threadpoolctl")
    return None
