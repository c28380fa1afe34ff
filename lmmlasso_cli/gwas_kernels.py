"""Numba kernels of the exact per-SNP REML test (`gwas.wald_exact`): one pass over the n samples
per evaluation of the criterion, no BLAS calls. Imported on first use of the exact test, so that
the fixed-δ scan and OLS never compile them. Notation as in `lmmlasso_cli.gwas`.
"""

import numpy as np
from numba import njit

from lmmlasso_cli._numba import FASTMATH as _FASTMATH

LOG_CHUNK = 8  # factors S_i + δ multiplied before one log is taken


@njit(cache=True, fastmath=_FASTMATH)
def _weights(S, log_delta, w):
    """Fill w = 1/(S + δ) and return Σ log(S_i + δ) (one log per LOG_CHUNK factors)."""
    n = S.shape[0]
    delta = np.exp(log_delta)
    logh = 0.0
    for start in range(0, n, LOG_CHUNK):
        prod = 1.0
        for i in range(start, min(start + LOG_CHUNK, n)):
            h = S[i] + delta
            w[i] = 1.0 / h
            prod *= h
        logh += np.log(prod)
    return logh


@njit(cache=True, fastmath=_FASTMATH)
def _wdot(a, b, w):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i] * b[i] * w[i]
    return acc


@njit(cache=True)
def _projected_sums(S, uy, ucT, X, j, log_delta, w, cc, zx, zy):
    """Sums with w = 1/(S + δ) for SNP j (column of X), covariates projected out.

    Returns (x*ᵀwx*, xx, xy, yy, log|C*ᵀwC*| + Σ log(S + δ)), where xx, xy, yy are the
    covariate-projected sums (Schur complement with the Cholesky factor of C*ᵀwC*, which
    overwrites cc). ``ucT`` is C*ᵀ (c, n); w (n,), cc (c, c), zx, zy (c,) are scratch.
    """
    c = ucT.shape[0]
    logdet = _weights(S, log_delta, w)
    x = X.T[j]  # column j, typed as a C array like uy and ucT[k]: one _wdot to compile
    raw = _wdot(x, x, w)
    xx = raw
    xy = _wdot(x, uy, w)
    yy = _wdot(uy, uy, w)
    for k in range(c):
        zx[k] = _wdot(ucT[k], x, w)
        zy[k] = _wdot(ucT[k], uy, w)
        for m in range(k + 1):
            cc[k, m] = _wdot(ucT[k], ucT[m], w)
    for k in range(c):  # in place: cc = L Lᵀ (lower), then z = L⁻¹(C*ᵀwx*), L⁻¹(C*ᵀwy*)
        for m in range(k):
            cc[k, k] -= cc[k, m] * cc[k, m]
        d = np.sqrt(cc[k, k])
        cc[k, k] = d
        logdet += 2.0 * np.log(d)
        for r in range(k + 1, c):
            for m in range(k):
                cc[r, k] -= cc[r, m] * cc[k, m]
            cc[r, k] /= d
        for m in range(k):
            zx[k] -= cc[k, m] * zx[m]
            zy[k] -= cc[k, m] * zy[m]
        zx[k] /= d
        zy[k] /= d
        xx -= zx[k] * zx[k]
        xy -= zx[k] * zy[k]
        yy -= zy[k] * zy[k]
    return raw, xx, xy, yy, logdet


@njit(cache=True)
def _criterion(S, uy, ucT, X, j, log_delta, df, n_null, w, cc, zx, zy):
    """−2 log L_R(δ) of SNP j without its constants (see `_RemlProfile`); ``n_null``
    eigenvalues 0 of a low-rank K have no row and add n_null · log δ."""
    _, xx, xy, yy, logdet = _projected_sums(S, uy, ucT, X, j, log_delta, w, cc, zx, zy)
    if not xx > 0.0:
        return np.inf
    rss = yy - xy * xy / xx
    if not rss > 0.0:
        return np.inf
    return df * np.log(rss / df) + logdet + n_null * log_delta + np.log(xx)


@njit(cache=True)
def _exact_search(S, uy, ucT, X, lo, hi, xtol, df, n_null, out_x, out_f):
    """Brent's bounded minimization (as scipy's ``fminbound``) of each SNP's criterion over
    [lo_j, hi_j]; stops when the bracket is below 2·(xtol/3 + √ε·|x|)."""
    c = ucT.shape[0]
    w = np.empty(S.shape[0])
    cc = np.empty((c, c))
    zx = np.empty(c)
    zy = np.empty(c)
    sqrt_eps = np.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - np.sqrt(5.0))
    for j in range(X.shape[1]):
        a, b = lo[j], hi[j]
        fulc = a + golden_mean * (b - a)
        nfc = xf = fulc
        rat = e = 0.0
        fx = _criterion(S, uy, ucT, X, j, xf, df, n_null, w, cc, zx, zy)
        ffulc = fnfc = fx
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xtol / 3.0
        tol2 = 2.0 * tol1
        for _ in range(500):
            if abs(xf - xm) <= tol2 - 0.5 * (b - a):
                break
            golden = True
            if abs(e) > tol1:  # try a parabolic step
                golden = False
                r = (xf - nfc) * (fx - ffulc)
                q = (xf - fulc) * (fx - fnfc)
                p = (xf - fulc) * q - (xf - nfc) * r
                q = 2.0 * (q - r)
                if q > 0.0:
                    p = -p
                q = abs(q)
                r = e
                e = rat
                if abs(p) < abs(0.5 * q * r) and p > q * (a - xf) and p < q * (b - xf):
                    rat = p / q
                    x = xf + rat
                    if (x - a) < tol2 or (b - x) < tol2:
                        rat = tol1 if xm >= xf else -tol1
                else:
                    golden = True
            if golden:
                e = (a - xf) if xf >= xm else (b - xf)
                rat = golden_mean * e
            step = max(abs(rat), tol1)
            x = xf + step if rat >= 0.0 else xf - step
            fu = _criterion(S, uy, ucT, X, j, x, df, n_null, w, cc, zx, zy)
            if fu <= fx:
                if x >= xf:
                    a = xf
                else:
                    b = xf
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = xf, fx
                xf, fx = x, fu
            else:
                if x < xf:
                    a = x
                else:
                    b = x
                if fu <= fnfc or nfc == xf:
                    fulc, ffulc = nfc, fnfc
                    nfc, fnfc = x, fu
                elif fu <= ffulc or fulc == xf or fulc == nfc:
                    fulc, ffulc = x, fu
            xm = 0.5 * (a + b)
            tol1 = sqrt_eps * abs(xf) + xtol / 3.0
            tol2 = 2.0 * tol1
        out_x[j] = xf
        out_f[j] = fx


@njit(cache=True)
def _exact_sums(S, uy, ucT, X, log_delta, out):
    """Per SNP j at its own δ: out[j] = (x*ᵀwx*, xx, xy, yy), the last three projected."""
    c = ucT.shape[0]
    w = np.empty(S.shape[0])
    cc = np.empty((c, c))
    zx = np.empty(c)
    zy = np.empty(c)
    for j in range(X.shape[1]):
        raw, xx, xy, yy, _ = _projected_sums(S, uy, ucT, X, j, log_delta[j], w, cc, zx, zy)
        out[j, 0] = raw
        out[j, 1] = xx
        out[j, 2] = xy
        out[j, 3] = yy
