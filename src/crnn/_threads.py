"""How many threads crnn uses, and running independent kernel calls (the
two directions of a bidirectional layer, the slices of a batch, a call and
its team's helper) side by side.

The kernels release the GIL, so plain Python threads run them in parallel.
The core starts no threads of its own: crnn's threads are these. In the
default mode the products over whole sequences go to SciPy's OpenBLAS,
called from these threads, each call on one thread: while a call of crnn's
that can reach BLAS runs, SciPy's OpenBLAS is held to one thread
(``blas_held``) and set back after, so that its own workers neither
compete with crnn's threads nor spin on the cores the time loop needs
after a gemm returns. NumPy's BLAS (a separate copy in NumPy's wheels) is
never touched.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ._validate import check_positive_int


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


_num_threads = _available_cores()
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def set_num_threads(n: int) -> None:
    """Use up to n threads: for the two directions of a bidirectional layer,
    the batch slices of a unidirectional one, or a helper that shares one
    piece's products (when n >= 2). These threads are all crnn's calls
    use, BLAS's included: each of them calls SciPy's OpenBLAS on one
    thread (held so during crnn's calls, set back after)."""
    global _num_threads, _pool
    n = check_positive_int(n, "n")
    with _lock:
        _num_threads = n
        _pool = None   # a new size; calls under way keep the pool they hold


def get_num_threads() -> int:
    """The number of threads crnn uses (by default, the cores this process
    may run on)."""
    return _num_threads


class _OpenBLAS:
    """SciPy's OpenBLAS (the library scipy.linalg.cython_blas calls, found
    by threadpoolctl in SciPy's folder): its thread count, read and set
    through its own functions (threadpoolctl's setter obeys one Python
    thread only)."""

    def __init__(self):
        self.info, self._get, self._set = None, None, None
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (loaded: findable)
            from threadpoolctl import threadpool_info
        except ImportError:     # pragma: no cover - both are dependencies
            return
        for info in threadpool_info():
            path = info.get("filepath", "").replace("\\", "/")
            if info.get("user_api") == "blas" and ("scipy.libs" in path or "/scipy/" in path):
                self.info = info
                break
        if self.info is None or self.info.get("internal_api") != "openblas":
            return
        try:
            lib = ctypes.CDLL(self.info["filepath"])
        except OSError:         # pragma: no cover
            return
        for prefix in ("scipy_", ""):
            for suffix in ("", "64_"):
                name = f"{prefix}openblas_%s_num_threads{suffix}"
                if hasattr(lib, name % "get") and hasattr(lib, name % "set"):
                    self._get, self._set = getattr(lib, name % "get"), getattr(lib, name % "set")
                    self._get.restype, self._set.argtypes = ctypes.c_int, [ctypes.c_int]
                    return

    def get_num_threads(self) -> int | None:
        return None if self._get is None else int(self._get())

    def set_num_threads(self, n: int) -> None:
        if self._set is not None:
            self._set(n)


_openblas: _OpenBLAS | None = None
_held = 0             # crnn calls under way that hold SciPy's OpenBLAS
_saved_blas = None    # its thread count before the first of them


def scipy_openblas() -> _OpenBLAS:
    """The controller of SciPy's OpenBLAS (found once)."""
    global _openblas
    if _openblas is None:
        _openblas = _OpenBLAS()
    return _openblas


@contextlib.contextmanager
def blas_held():
    """SciPy's OpenBLAS on one thread while the block runs (nested and
    concurrent blocks count; the last one out sets it back). A SciPy call
    made meanwhile by another thread of the program runs on one thread
    too."""
    global _held, _saved_blas
    lib = scipy_openblas()
    with _lock:
        if _held == 0:
            _saved_blas = lib.get_num_threads()
            if _saved_blas not in (None, 1):
                lib.set_num_threads(1)
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0 and _saved_blas not in (None, 1):
                lib.set_num_threads(_saved_blas)


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start afresh."""
    global _pool, _lock, _held
    _lock = threading.Lock()
    _pool = None
    _held = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_all(tasks, parallel: bool = True) -> None:
    """Run the callables; side by side on up to get_num_threads() threads
    when parallel and there is more than one, else one after the other.
    Exceptions propagate (the first task's first)."""
    global _pool
    with _lock:
        n = _num_threads
        if parallel and len(tasks) >= 2 and n >= 2:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="crnn")
            pool = _pool
        else:
            pool = None
    if pool is None:
        for t in tasks:
            t()
        return
    futures = [pool.submit(t) for t in tasks[1:]]
    try:
        tasks[0]()
    finally:
        for f in futures:
            f.exception()  # wait for every one before raising
    for f in futures:
        f.result()
