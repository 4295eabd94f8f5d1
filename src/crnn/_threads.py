"""How many threads crnn uses, and running independent kernel calls (the
two directions of a bidirectional layer) side by side.

The kernels release the GIL, so plain Python threads run them in parallel.
BLAS here is SciPy's OpenBLAS (NumPy's copy is a separate library and is
never touched): ``set_num_threads(n)`` sets its thread count to n; while
crnn runs two directions at once it pins it to 1 thread (two threads each
calling a single-threaded BLAS beat one multi-threaded BLAS called twice:
OpenBLAS's idle workers busy-wait and steal the core the other direction
needs), and restores it afterwards. threadpoolctl's ``threadpool_limits``
on SciPy's OpenBLAS has the same effect on the BLAS part; call
``set_num_threads`` again after changing it by hand if crnn should follow.
"""
from __future__ import annotations

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
_pinned = 0          # parallel sections running now
_saved_blas = None   # SciPy's OpenBLAS thread count before the first of them
_blas = None         # threadpoolctl's controllers of SciPy's BLAS (lazy)


def _scipy_blas():
    """threadpoolctl controllers of the BLAS that SciPy (and so crnn) uses."""
    global _blas
    if _blas is None:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (load it)
            from threadpoolctl import ThreadpoolController
            libs = ThreadpoolController().lib_controllers
        except Exception:  # pragma: no cover - threadpoolctl is a dependency
            libs = []
        _blas = [lib for lib in libs if lib.user_api == "blas" and
                 ("scipy.libs" in lib.filepath.replace("\\", "/") or
                  "/scipy/" in lib.filepath.replace("\\", "/"))]
    return _blas


def _set_blas_threads(lib, n: int) -> None:
    """Set SciPy's OpenBLAS thread count from any thread. threadpoolctl's
    set_num_threads only obeys the first Python thread that used it and
    silently ignores the others; OpenBLAS's own setter has no such rule."""
    setter = getattr(lib, "_real_set_num_threads", None) or lib.set_num_threads
    setter(n)


def set_num_threads(n: int) -> None:
    """Use up to n threads: for the two directions of a bidirectional layer
    or the batch slices of a unidirectional one (run at once when n >= 2),
    and for SciPy's BLAS inside crnn's calls."""
    global _num_threads, _pool, _saved_blas
    n = check_positive_int(n, "n")
    with _lock:
        _num_threads = n
        _pool = None   # a new size; calls under way keep the pool they hold
        if _pinned == 0:
            for lib in _scipy_blas():
                _set_blas_threads(lib, n)
        else:          # restored to n when the parallel sections end
            _saved_blas = [n] * len(_scipy_blas())


def get_num_threads() -> int:
    """The number of threads crnn uses (by default, the cores this process
    may run on)."""
    return _num_threads


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start afresh."""
    global _pool, _pinned, _saved_blas, _lock
    _lock = threading.Lock()
    _pool, _pinned, _saved_blas = None, 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _enter_parallel():
    global _pinned, _saved_blas
    with _lock:
        if _pinned == 0:
            libs = _scipy_blas()
            _saved_blas = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                _set_blas_threads(lib, 1)
        _pinned += 1


def _leave_parallel():
    global _pinned
    with _lock:
        _pinned -= 1
        if _pinned == 0:
            for lib, n in zip(_scipy_blas(), _saved_blas or []):
                _set_blas_threads(lib, n)


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
    _enter_parallel()
    try:
        futures = [pool.submit(t) for t in tasks[1:]]
        try:
            tasks[0]()
        finally:
            for f in futures:
                f.exception()  # wait for every one before raising
        for f in futures:
            f.result()
    finally:
        _leave_parallel()
