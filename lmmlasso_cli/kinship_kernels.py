"""Numba kernel of `kinship`: a unit's float64 sum rounded to 64-bit fixed point, one pass."""

import numpy as np
from numba import njit

FIXED_LIMIT = 2.0**62  # |value| · 2^bits must stay below this (int64 with two spare bits)


@njit(cache=True)
def round_upper_to_fixed(upper, scale, out):
    """out[i, j] = rint(upper[i, j] · scale) for i ≤ j (the upper triangle; ``scale`` a power
    of two, so the product is exact); ``out`` int64 (n, n), its lower triangle left as it is.
    Returns False, leaving ``out`` partly written, if a value reaches `FIXED_LIMIT`."""
    n = upper.shape[0]
    for j in range(n):
        for i in range(j + 1):
            v = upper[i, j] * scale
            if abs(v) >= FIXED_LIMIT:
                return False
            out[i, j] = np.int64(np.rint(v))
    return True
