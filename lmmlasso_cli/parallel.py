"""Execution backends behind the ``map_fn`` seam of the core.

Core functions that loop over independent work units (cv folds, stability replicates,
phenotypes, SNP blocks, simulation replicates) take a ``map_fn(fn, items)`` that returns results
in order. This module supplies three, all as a `Backend`:

- ``serial``: the builtin map in this process;
- ``processes``: a pool of spawned worker processes on this machine;
- ``dask``: a ``dask.distributed`` cluster (``--scheduler ADDRESS|FILE|local``), imported only
  here and only when asked for; the core never imports dask.

Workers run each unit with one BLAS thread and get large arrays as memory-mapped .npy files
(`io.shared_arrays`): a unit pickles as file paths, index ranges and seeds, never as an n × p
array. `Backend.tree_sum` reduces unit results in one fixed binary tree (`tree_sum` below),
whatever the backend, so a reduction gives the same bits on every backend.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
DASK_RETRIES = 2  # a unit raising (e.g. a lost file handle) is re-run this often on Dask
DASK_INSTALL = "--scheduler needs dask.distributed: pip install 'lmmlasso-cli[dask]'"
_WORKER_LIMITS = None  # the threadpoolctl limiter of a worker process, kept alive
_WORKER_PROGRESS = None  # a pool worker's end of its pool's progress queue


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _init_worker(progress=None) -> None:
    """Worker start-up: one BLAS/OpenMP thread, for libraries loaded now or later; keeps the
    pool's progress queue (`unit_progress`) when given one."""
    global _WORKER_LIMITS, _WORKER_PROGRESS
    _WORKER_PROGRESS = progress
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


def _one_blas_thread(fn: Callable, item):
    """``fn(item)`` with one BLAS thread and one numba thread (Dask workers have threads of
    their own; Dask limits BLAS in its workers' environment but not numba, whose parallel
    kernels would otherwise start a thread per core in every worker)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), _one_numba_thread():
        return fn(item)


@contextlib.contextmanager
def _one_numba_thread():
    """numba's parallel regions launched from this thread use one thread, if numba is loaded
    (kernels give the same bits for any thread count; this is about CPU, not results)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def tree_sum(values: Iterable, add: Callable):
    """Reduce ``values`` (in order) by ``add`` in one fixed binary tree: the left subtree of a
    range of m values holds the largest power of two below m. Streams: O(log m) partials."""
    stack: list[tuple[int, object]] = []
    for value in values:
        size = 1
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            value, size = add(left, value), left_size + size
        stack.append((size, value))
    if not stack:
        raise ValueError("tree_sum needs at least one value")
    total = stack.pop()[1]
    while stack:
        total = add(stack.pop()[1], total)
    return total


@dataclass(frozen=True)
class Backend:
    """Where units run. ``map(fn, items)`` returns results in order; ``share(obj)`` gives the
    object (a dataclass of arrays) to put in units; ``tree_sum(fn, items, add)`` reduces the
    results of ``fn`` in the tree of `tree_sum`."""

    name: str  # "serial", "processes" or "dask"
    n_workers: int
    map: Callable[[Callable, Iterable], Iterator]
    share: Callable
    client: object = None  # the dask Client, for "dask"
    progress: object = None  # the pool's progress queue, for "processes" (`unit_progress`)

    @property
    def distributed(self) -> bool:
        return self.name != "serial"

    def tree_sum(self, fn: Callable, items: Iterable, add: Callable, progress=None):
        if self.client is None:

            def results():
                for item, value in zip(items, self.map(fn, items), strict=True):
                    if progress is not None:
                        progress(item)
                    yield value

            return tree_sum(results(), add)
        return _dask_tree_sum(self.client, fn, list(items), add, progress)


def _add_one_blas_thread(add: Callable, a, b):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return add(a, b)


def _dask_tree_sum(client, fn, items, add, progress):
    """The tree of `tree_sum`, built from futures: the reduction runs on the workers as the
    units finish; only the total comes back."""
    from distributed import as_completed

    task = functools.partial(_one_blas_thread, fn)
    futures = client.map(task, items, pure=False, retries=DASK_RETRIES)

    def add_futures(a, b):
        return client.submit(_add_one_blas_thread, add, a, b, pure=False, retries=DASK_RETRIES)

    total = tree_sum(futures, add_futures)
    index = {f.key: i for i, f in enumerate(futures)}
    for done in as_completed(futures):
        i = index[done.key]
        futures[i] = None  # let the workers free a unit's result once its sum is done
        if progress is not None:
            progress(items[i])
    return total.result()


def _serial_map(fn, items):
    return map(fn, items)


def _dask_map(client, fn, items):
    task = functools.partial(_one_blas_thread, fn)
    futures = client.map(task, list(items), pure=False, retries=DASK_RETRIES)
    for i in range(len(futures)):
        result = futures[i].result()
        futures[i] = None  # release the unit on the cluster as soon as its result is here
        yield result


@contextlib.contextmanager
def _pool(workers: int, on_start):
    """Yield (map, progress queue) of a spawned pool whose workers hold the queue."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    progress = context.SimpleQueue()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(progress,),
    )
    try:
        if on_start is not None:
            seen = sorted({n for counts in pool.map(blas_threads, range(workers)) for n in counts})
            on_start(workers, seen)
        yield pool.map, progress
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()


@contextlib.contextmanager
def dask_client(scheduler: str, threads: int | None):
    """A ``distributed.Client``: ``local`` starts a LocalCluster of ``threads`` (default: all
    cores) single-threaded worker processes; an existing file is a scheduler file
    (``dask scheduler --scheduler-file``); anything else is an address (tcp://host:8786)."""
    try:
        import distributed
    except ImportError:
        from lmmlasso_cli.errors import InputError

        raise InputError(DASK_INSTALL) from None
    if scheduler == "local":
        workers = threads or available_cores()
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    if os.path.isfile(scheduler):
        with distributed.Client(scheduler_file=scheduler) as client:
            yield client
        return
    with distributed.Client(scheduler) as client:
        yield client


@contextlib.contextmanager
def open_backend(
    threads: int | None,
    scheduler: str | None = None,
    n_tasks: int | None = None,
    processes: bool = False,
    shared_dir: str | None = None,
    on_start=None,
):
    """Yield a `Backend`: Dask when ``scheduler`` is given; else, with ``processes`` and more
    than one worker (``threads``, at most ``n_tasks``), a spawned process pool; else serial.

    Shared arrays go to ``shared_dir`` (a folder every worker sees; default ``$TMPDIR``) for
    the block's duration. With Dask this process, too, computes with one BLAS thread, so the
    results equal a serial run with one thread whatever the number of workers.
    ``on_start(description, blas_threads)`` is called once workers are up.
    """
    from lmmlasso_cli.io.shared_arrays import shared_folder

    if scheduler:
        import scipy.linalg  # noqa: F401  (load its BLAS before limiting it)
        from threadpoolctl import threadpool_limits

        with (
            dask_client(scheduler, threads) as client,
            shared_folder(shared_dir) as share,
            threadpool_limits(limits=1),  # this process too: bits equal to any worker count
        ):
            n_workers = len(client.scheduler_info()["workers"])
            if on_start is not None:
                seen = client.run(blas_threads)
                counts = sorted({n for c in seen.values() for n in c})
                on_start(f"Dask scheduler {client.scheduler.address}: {n_workers} workers", counts)
            yield Backend("dask", n_workers, functools.partial(_dask_map, client), share, client)
        return
    workers = min(threads or available_cores(), n_tasks or 1)
    if processes and workers > 1:

        def started(n, seen):
            if on_start is not None:
                on_start(f"{n} worker processes", seen)

        with _pool(workers, started) as (pool_map, queue), shared_folder(shared_dir) as share:
            yield Backend("processes", workers, pool_map, share, progress=queue)
        return
    yield Backend("serial", 1, _serial_map, lambda obj: obj)


class _PoolProgress:
    """``progress(n)`` inside a pool's work units: n onto the pool's queue, which the worker
    received at start-up (a queue cannot travel in a unit); picklable, stateless."""

    def __call__(self, n: int) -> None:
        _WORKER_PROGRESS.put(int(n))


@contextlib.contextmanager
def unit_progress(backend: Backend, update: Callable[[int], object]):
    """Yield a ``progress(n)`` that work units call as they advance n steps, each call reaching
    ``update(n)`` here: ``update`` itself in a serial run; for a process pool, the pool's queue,
    drained by a thread here (every unit's steps are in before its result); None on Dask, whose
    workers may be on other machines (count steps as results arrive instead)."""
    if backend.progress is None:
        yield update if backend.name == "serial" else None
        return
    import threading

    queue = backend.progress

    def drain():
        while (n := queue.get()) is not None:
            update(n)

    thread = threading.Thread(target=drain, name="unit-progress", daemon=True)
    thread.start()
    try:
        yield _PoolProgress()
    finally:
        queue.put(None)  # after every unit's steps: they were written before its result came
        thread.join()


@contextlib.contextmanager
def parallel_map(data, n_tasks: int, threads: int | None, on_start=None):
    """Yield (map_fn, data_for_tasks): the builtin map with one BLAS thread, or, for more than
    one worker, a spawned process pool's map over memory-mapped data. ``on_start(workers,
    blas_threads)`` is called once a pool is up (for the log)."""
    from threadpoolctl import threadpool_limits

    def started(description, seen):
        if on_start is not None:
            on_start(int(description.split()[0]), seen)

    with open_backend(threads, None, n_tasks, processes=True, on_start=started) as backend:
        if backend.name == "serial":
            with threadpool_limits(limits=1):
                yield map, data
        else:
            yield backend.map, backend.share(data)


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
