"""Execution backends behind the ``map_fn`` seam of the core.

Core functions that loop over independent work units (cv folds, stability replicates) take a
``map_fn(fn, items)`` that returns results in order. This module supplies them: the builtin
map with one BLAS thread, or a process pool of spawned workers, each with one BLAS thread, fed
memory-mapped copies of the data (`io.shared_arrays`). Every unit runs with one BLAS thread
either way, so results do not depend on the number of workers. The core never imports this.
"""

from __future__ import annotations

import contextlib
import os

BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_WORKER_LIMITS = None  # the threadpoolctl limiter of a worker process, kept alive


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _init_worker() -> None:
    """Worker start-up: one BLAS/OpenMP thread, for libraries loaded now or later."""
    global _WORKER_LIMITS
    for name in BLAS_ENV:
        os.environ[name] = "1"
    import numpy  # noqa: F401  (load the BLAS libraries before limiting them)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    _WORKER_LIMITS = threadpool_limits(limits=1)


def blas_threads(_=None) -> list[int]:
    """The distinct thread counts of the BLAS/OpenMP libraries loaded in this process."""
    from threadpoolctl import threadpool_info

    return sorted({lib["num_threads"] for lib in threadpool_info()})


@contextlib.contextmanager
def parallel_map(data, n_tasks: int, threads: int | None, on_start=None):
    """Yield (map_fn, data_for_tasks): the builtin map with one BLAS thread, or, for more than
    one worker, a spawned process pool's map over memory-mapped data. ``on_start(workers,
    blas_threads)`` is called once a pool is up (for the log)."""
    from threadpoolctl import threadpool_limits

    workers = min(threads or available_cores(), n_tasks)
    if workers <= 1:
        with threadpool_limits(limits=1):
            yield map, data
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lmmlasso_cli.io.shared_arrays import shared_training_data

    with shared_training_data(data) as shared:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )
        try:
            if on_start is not None:
                seen = sorted(
                    {n for counts in pool.map(blas_threads, range(workers)) for n in counts}
                )
                on_start(workers, seen)
            yield pool.map, shared
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def process_map(n_tasks: int, threads: int | None):
    """Yield a ``map_fn`` over picklable tasks: the builtin map with one BLAS thread, or a
    spawned process pool's map (one BLAS thread per worker) when more than one worker helps."""
    from threadpoolctl import threadpool_limits

    workers = min(threads or available_cores(), n_tasks)
    if workers <= 1:
        with threadpool_limits(limits=1):
            yield map
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )
    try:
        yield pool.map
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
