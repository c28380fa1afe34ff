"""Arrays for worker processes: a dataclass of arrays written once to .npy files, memory-mapped.

`shared_folder` yields ``share(obj)``: it writes an array (`SharedArray`) or the array fields of
a frozen dataclass (a `TrainingData`, a `KinshipEigen`, ...; `SharedRecord`) to .npy files in
one folder.
A record pickles as its class, the file paths and the other fields; unpickled in a worker it
becomes the dataclass again, over read-only memory maps opened once per process. So a process
pool or a Dask cluster never copies the genotypes or the n × n eigenvectors through a pipe: the
folder must be one every worker sees (``$TMPDIR`` on one machine, shared storage on a cluster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator

import numpy as np

MIN_SHARED_BYTES = 1 << 16  # smaller arrays travel inside the pickle


@functools.lru_cache(maxsize=64)  # a long-lived worker forgets old runs
def _open_npy(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def _rebuild(cls, paths: dict, values: dict):
    return cls(**values, **{name: _open_npy(path) for name, path in paths.items()})


class SharedRecord:
    """A dataclass stored as .npy files; pickles as paths and rebuilds itself when unpickled."""

    def __init__(self, cls, paths: dict, values: dict):
        self.cls, self.paths, self.values = cls, dict(paths), dict(values)

    def __reduce__(self):
        return (_rebuild, (self.cls, self.paths, self.values))

    def load(self):
        """The dataclass itself, over memory maps (as a worker sees it)."""
        return _rebuild(self.cls, self.paths, self.values)

    def __getattr__(self, name: str):
        if name in ("cls", "paths", "values"):
            raise AttributeError(name)
        return getattr(self.load(), name)


class SharedArray:
    """An array stored as a .npy file; pickles as its path, unpickles as a read-only map."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (_open_npy, (self.path,))


@contextlib.contextmanager
def shared_folder(parent: str | None = None) -> Iterator[Callable]:
    """Yield ``share(obj)`` writing into a temporary folder under ``parent`` (default
    ``$TMPDIR``), removed with everything in it when the block ends."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".lmmlasso-shared-", dir=parent) as folder:
        counter = itertools.count()

        def share(obj):
            if isinstance(obj, np.ndarray) and obj.nbytes >= MIN_SHARED_BYTES:
                path = os.path.join(folder, f"{next(counter)}.npy")
                np.save(path, obj)
                return SharedArray(path)
            if not dataclasses.is_dataclass(obj):
                return obj
            paths, values = {}, {}
            for field in dataclasses.fields(obj):
                value = getattr(obj, field.name)
                if isinstance(value, np.ndarray) and value.nbytes >= MIN_SHARED_BYTES:
                    paths[field.name] = os.path.join(folder, f"{next(counter)}.npy")
                    np.save(paths[field.name], value)
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
