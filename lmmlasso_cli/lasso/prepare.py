"""The coordinate-descent kernels compiled (or loaded from numba's cache) while a command reads.

`prepare_kernels` hands the two kernels that `lasso.path` calls, `_cd.cd_epochs` and
`_cd.duality_gap_from_correlations`, tiny arguments of exactly the types path.py passes them
(a Fortran design block, C vectors, float penalties and tolerance, an int epoch budget, the
Anderson depth left at its default), to `_numba.prepare_in_background`. If path.py changes
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
    w, norms, corr = np.zeros(m), np.ones(m), X.T @ y
    l1, l2, tol = 1.0, 0.0, 1e-7
    max_epochs = 1  # an int, as path.py's remaining epoch budget
    return prepare_in_background(
        [
            (_cd.cd_epochs, (X, y, w, y.copy(), norms, l1, l2, tol, max_epochs)),
            (_cd.duality_gap_from_correlations, (corr, w, y.copy(), y, l1, l2)),
        ]
    )
