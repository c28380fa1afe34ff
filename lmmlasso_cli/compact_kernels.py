"""numba kernels over compact genotype codes (see :mod:`lmmlasso_cli.compact`).

``codes`` is a (n_rows, n_snps) uint8 Fortran array of 0, 1, 2 (A1 counts) and 3 (missing);
``rows`` (n,) intp selects and orders the individuals a kernel sees; ``lut`` (n_snps, 4) holds
each SNP's standardized value of every code, (c − mean)/sd for c = 0, 1, 2 and 0 for missing
(the mean imputation). Every kernel works column by column (``prange`` over SNPs) and each
column's result is computed by one thread in a fixed order, so results do not depend on the
number of threads. Dot products use `_numba.FASTMATH` (SIMD partial sums: a fixed order for a
given machine, whatever the thread count).
"""

import numpy as np
from numba import njit, prange

from lmmlasso_cli._numba import FASTMATH

MISSING = 3  # the code of a missing call


@njit(inline="always")
def _store_counts(out, j, n, c1, c2, c3):
    out[j, 0] = n - c1 - c2 - c3
    out[j, 1] = c1
    out[j, 2] = c2
    out[j, 3] = c3


@njit(parallel=True, cache=True)
def code_counts(codes, rows, out):
    """out[j, c] = number of individuals ``rows`` with code c at SNP j; out (n_snps, 4) int64.
    Comparisons are summed, not branched on: the loop vectorizes (70× the branching loop's
    speed on random codes)."""
    n = rows.size
    for j in prange(codes.shape[1]):
        c1 = 0
        c2 = 0
        c3 = 0
        for i in range(n):
            c = codes[rows[i], j]
            c1 += c == 1
            c2 += c == 2
            c3 += c == 3
        _store_counts(out, j, n, c1, c2, c3)


@njit(parallel=True, cache=True)
def code_counts_all(codes, out):
    """`code_counts` over every row of ``codes``: contiguous reads, 6× faster than through
    ``rows`` = all rows."""
    n = codes.shape[0]
    for j in prange(codes.shape[1]):
        c1 = 0
        c2 = 0
        c3 = 0
        for i in range(n):
            c = codes[i, j]
            c1 += c == 1
            c2 += c == 2
            c3 += c == 3
        _store_counts(out, j, n, c1, c2, c3)


@njit(inline="always")
def _value(code, l0, l1, l2):
    """The standardized value of ``code`` given the SNP's values of 0, 1, 2 (missing: 0)."""
    return l0 if code == 0 else (l1 if code == 1 else (l2 if code == 2 else 0.0))


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def tdot_all(codes, lut, u, out):
    """out[j] = Σ_i Z[i, j] u[i] over all rows of ``codes``: Zᵀu; u (n_rows,), out (n_snps,)."""
    n = codes.shape[0]
    for j in prange(codes.shape[1]):
        l0, l1, l2 = lut[j, 0], lut[j, 1], lut[j, 2]
        acc = 0.0
        for i in range(n):
            acc += _value(codes[i, j], l0, l1, l2) * u[i]
        out[j] = acc


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def tdot_rows(codes, rows, lut, u, out):
    """As `tdot_all` over the rows ``rows`` of ``codes``; u (len(rows),)."""
    n = rows.size
    for j in prange(codes.shape[1]):
        l0, l1, l2 = lut[j, 0], lut[j, 1], lut[j, 2]
        acc = 0.0
        for i in range(n):
            acc += _value(codes[rows[i], j], l0, l1, l2) * u[i]
        out[j] = acc


@njit(parallel=True, cache=True)
def expand(codes, rows, cols, lut, out):
    """out[:, k] = standardized SNP cols[k] over ``rows``; out (n, len(cols)) Fortran, float64
    or float32 (a float32 lut gives the float64 values rounded once)."""
    n = rows.size
    for k in prange(cols.size):
        j = cols[k]
        for i in range(n):
            out[i, k] = lut[j, codes[rows[i], j]]


@njit(parallel=True, cache=True)
def column_hashes(codes, rows, out):
    """out[j] = 64-bit FNV-1a hash of SNP j's codes over ``rows`` (to find duplicate SNPs)."""
    n = rows.size
    for j in prange(codes.shape[1]):
        h = np.uint64(14695981039346656037)
        for i in range(n):
            h = (h ^ np.uint64(codes[rows[i], j])) * np.uint64(1099511628211)
        out[j] = h


@njit(parallel=True, cache=True)
def gather_rows(codes, rows, out):
    """out[:, j] = codes[rows, j]: the codes of a subset of individuals, (len(rows), n_snps)."""
    n = rows.size
    for j in prange(codes.shape[1]):
        for i in range(n):
            out[i, j] = codes[rows[i], j]


@njit(parallel=True, cache=True)
def columns_equal(codes, rows, a, b, out):
    """out[k] = True where SNPs a[k] and b[k] have the same codes over ``rows``."""
    n = rows.size
    for k in prange(a.size):
        same = True
        for i in range(n):
            if codes[rows[i], a[k]] != codes[rows[i], b[k]]:
                same = False
                break
        out[k] = same
