"""Arrays for worker processes: a `TrainingData` written once to .npy files and memory-mapped.

`shared_training_data` writes the arrays of a `TrainingData` to temporary .npy files; the
`MappedTrainingData` it yields pickles as those paths and memory-maps them read-only in each
worker process, so a process pool never copies the genotypes through a pipe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator

import numpy as np

_FIELDS = ("X", "y_raw", "covariates", "K")


@functools.cache
def _open_npy(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class MappedTrainingData:
    """A `TrainingData` stored as .npy files: pickles as its paths, memory-maps on first use."""

    def __init__(self, paths: dict):
        self.paths = dict(paths)

    def __reduce__(self):
        return (MappedTrainingData, (self.paths,))

    def __getattr__(self, name: str):
        paths = self.__dict__.get("paths", {})
        if name in _FIELDS and name in paths:
            return _open_npy(paths[name])
        raise AttributeError(name)


SHARED_PREFIX = "lmmlasso-shared-"  # $TMPDIR/lmmlasso-shared-PID-RANDOM


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
def shared_training_data(data) -> Iterator[MappedTrainingData]:
    """Write ``data``'s arrays to a temporary folder (``$TMPDIR``) for the block's duration;
    folders that killed runs left behind are deleted first."""
    remove_stale_folders()
    prefix = f"{SHARED_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        paths = {}
        for name in _FIELDS:
            paths[name] = os.path.join(folder, name + ".npy")
            np.save(paths[name], getattr(data, name))
        yield MappedTrainingData(paths)
        _open_npy.cache_clear()
