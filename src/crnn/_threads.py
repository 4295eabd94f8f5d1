"""How many threads crnn uses, and running independent kernel calls (the
two directions of a bidirectional layer, the slices of a batch, a call and
its team's helper) side by side.

The kernels release the GIL, so plain Python threads run them in parallel.
Every product runs on the core's own kernels, which start no threads of
their own: crnn's threads are these, and no BLAS's thread count matters to
it.
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


def set_num_threads(n: int) -> None:
    """Use up to n threads: for the two directions of a bidirectional layer,
    the batch slices of a unidirectional one, or a helper that shares one
    piece's products (when n >= 2)."""
    global _num_threads, _pool
    n = check_positive_int(n, "n")
    with _lock:
        _num_threads = n
        _pool = None   # a new size; calls under way keep the pool they hold


def get_num_threads() -> int:
    """The number of threads crnn uses (by default, the cores this process
    may run on)."""
    return _num_threads


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start afresh."""
    global _pool, _lock
    _lock = threading.Lock()
    _pool = None


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
