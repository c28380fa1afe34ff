"""The coordinate-descent kernels compiled (or loaded from numba's cache) while a command reads.

`prepare_kernels` hands the kernels that `lasso.path` calls on every fit
(`_cd.cd_epochs_gram`, `_cd.gram_gather`) tiny
arguments of exactly the types path.py passes them
(a Fortran design block, C vectors, float penalties and tolerance, an int epoch budget, the
Anderson depth left at its default), to `_numba.prepare_in_background`. The column form
`_cd.cd_epochs` (2.6 s to compile here) is left to its first call: path.py needs it only for a
working set larger than n or than `GRAM_MAX_FEATURES`. If path.py changes
those types, numba compiles a second specialization on the first real call: slower, never
different; tests/test_startup.py counts the specializations a first `fit` leaves.
"""

from __future__ import annotations

import numpy as np


def prepare_kernels():
    """Start compiling or loading the kernels of `lasso.path` in a thread; return it."""
    from lmmlasso_cli._numba import prepare_in_background
    from lmmlasso_cli.lasso import _cd

    n, m = 4, 2  # the block must be Fortran-only: one column would be C-contiguous too
    X = np.asfortranarray(np.eye(n)[:, :m])
    y = np.ones(n)
    w, corr = np.zeros(m), X.T @ y
    l1, l2, tol = 1.0, 0.0, 1e-7
    max_epochs = 1  # an int, as path.py's remaining epoch budget
    G = np.asfortranarray(np.array([[1.0, 0.5], [0.5, 1.0]]))  # F order, as _GramCache's
    pos = np.arange(m, dtype=np.intp)
    return prepare_in_background(
        [
            (
                _cd.cd_epochs_gram,
                (G, corr.copy(), 4.0, w.copy(), corr.copy(), l1, l2, tol, max_epochs),
            ),
            (_cd.gram_gather, (G, pos, np.empty((m, m), order="F"), pos)),
        ]
    )
