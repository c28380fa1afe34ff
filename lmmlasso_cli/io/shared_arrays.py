"""Arrays for worker processes: a dataclass of arrays written once to .npy files, memory-mapped.

`shared_folder` yields ``share(obj)``: it writes an array (`SharedArray`) or the array fields of
a frozen dataclass (a `TrainingData`, a `KinshipEigen`, ...; `SharedRecord`) to .npy files in
one folder. Both pickle as file paths and stay so, however often they are pickled (a Dask
scheduler unpickles and re-pickles every task); the unit that computes calls `resolve` (or
reads a record's fields) and gets read-only memory maps opened once per process. So a process
pool or a Dask cluster never copies the genotypes or the n × n eigenvectors through a pipe: the
folder must be one every worker sees (``$TMPDIR`` on one machine, shared storage on a cluster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator

import numpy as np

MIN_SHARED_BYTES = 1 << 16  # smaller arrays travel inside the pickle


@functools.lru_cache(maxsize=64)  # a long-lived worker forgets old runs
def _open_npy(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class SharedRecord:
    """A dataclass stored as .npy files. Pickles as its class, paths and small fields, and stays
    this record through any number of pickle round trips (a Dask scheduler unpickles and
    re-pickles tasks); `resolve` or any field access turns it into the dataclass over memory
    maps, in the process that uses it."""

    def __init__(self, cls, paths: dict, values: dict):
        self.cls, self.paths, self.values = cls, dict(paths), dict(values)

    def __reduce__(self):
        return (SharedRecord, (self.cls, self.paths, self.values))

    def load(self):
        """The dataclass itself, over memory maps opened once per process."""
        arrays = {name: _open_npy(path) for name, path in self.paths.items()}
        values = {name: resolve(value) for name, value in self.values.items()}
        return self.cls(**values, **arrays)

    def __getattr__(self, name: str):
        # fields and properties only: a dunder probe must not load the arrays
        if name.startswith("__") or name in ("cls", "paths", "values"):
            raise AttributeError(name)
        return getattr(self.load(), name)


class SharedArray:
    """An array stored as a .npy file; pickles as its path (and stays a `SharedArray`, as
    `SharedRecord` does); `resolve` gives the read-only memory map."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (SharedArray, (self.path,))


def resolve(obj):
    """What a unit computes with: the dataclass or array behind a shared object, else ``obj``."""
    if isinstance(obj, SharedArray):
        return _open_npy(obj.path)
    if isinstance(obj, SharedRecord):
        return obj.load()
    return obj


SHARED_PREFIX = ".lmmlasso-shared-"  # PARENT/.lmmlasso-shared-PID-RANDOM


def remove_stale_folders(root: str | None = None) -> list[str]:
    """Delete the shared-data folders of runs that were killed (their PID is gone)."""
    from lmmlasso_cli.io.artifacts import _process_alive

    root = root or tempfile.gettempdir()
    removed = []
    for name in os.listdir(root):
        pid_text = name[len(SHARED_PREFIX) :].split("-", 1)[0]
        if name.startswith(SHARED_PREFIX) and pid_text.isdigit():
            if not _process_alive(int(pid_text)):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
                removed.append(name)
    return removed


@contextlib.contextmanager
def shared_folder(parent: str | None = None) -> Iterator[Callable]:
    """Yield ``share(obj)`` writing into a temporary folder under ``parent`` (default
    ``$TMPDIR``), removed with everything in it when the block ends; the folder's name carries
    the PID, and folders of dead processes are removed first."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    remove_stale_folders(parent)  # what runs killed with SIGKILL left behind
    prefix = f"{SHARED_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as folder:
        counter = itertools.count()

        def share(obj):
            if isinstance(obj, np.ndarray) and obj.nbytes >= MIN_SHARED_BYTES:
                path = os.path.join(folder, f"{next(counter)}.npy")
                np.save(path, obj)
                return SharedArray(path)
            if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
                return obj
            paths, values = {}, {}
            for field in dataclasses.fields(obj):
                value = getattr(obj, field.name)
                if isinstance(value, np.ndarray) and value.nbytes >= MIN_SHARED_BYTES:
                    paths[field.name] = os.path.join(folder, f"{next(counter)}.npy")
                    np.save(paths[field.name], value)
                elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                    values[field.name] = share(value)  # e.g. the genotypes of a TrainingData
                else:
                    values[field.name] = value
            return SharedRecord(type(obj), paths, values)

        try:
            yield share
        finally:
            _open_npy.cache_clear()


@contextlib.contextmanager
def shared_training_data(data) -> Iterator[SharedRecord]:
    """Write ``data``'s arrays to a temporary folder (``$TMPDIR``) for the block's duration."""
    with shared_folder() as share:
        yield share(data)
