"""Numba kernels for the elastic net by cyclic coordinate descent (kernel scaling).

The kernels minimize, over w in R^m,

    P(w) = ½‖y − Xw‖² + l1·‖w‖₁ + ½·l2·‖w‖²

for a Fortran-ordered float64 matrix X (n × m). ``l1`` and ``l2`` are absolute penalties (not
divided by n). The public scaling (μ, l1_ratio) is converted to (l1, l2) = (μ·r, μ·(1 − r)) in
:mod:`lmmlasso_cli.lasso.path`, the only Python caller of this module (besides
:mod:`lmmlasso_cli.lasso.prepare`, which calls the kernels on tiny arguments to compile them
while a command reads its data).

Duality gap (as in scikit-learn's ``enet_coordinate_descent``). With R = y − Xw,
XtA = XᵀR − l2·w, d = max_j |XtA_j| and the dual-feasible scaling const = l1/d if d > l1 else 1,

    gap = ½(1 + const²)‖R‖² + l1‖w‖₁ − const·Rᵀy + ½·l2·(1 + const²)‖w‖².

This is P(w) − D(θ) for the augmented problem X' = [X; √l2·I], y' = [y; 0] at the scaled
augmented residual θ = const·[R; −√l2·w], D(θ) = θᵀy' − ½‖θ‖². For l2 = 0 it reads
P(w) − (½‖y‖² − ½‖y − θ‖²) with θ = const·R. It is ≥ P(w) − P(w*) ≥ 0 in exact arithmetic.

The kernels are pure: they update their array arguments in place and return diagnostics. They
call no BLAS (no thread pool to contend with the caller's numpy BLAS); reductions are compiled
with reassociation allowed (``_FASTMATH``) so that they vectorize. Results are deterministic for
a given build and input. Array copies, sums and divisions are written as loops: numba compiles
each ``a[:] = b``, ``.copy()`` or ``.sum()`` as a function of its own, which doubled what a
first run spends compiling `cd_epochs` (6.4 s of CPU, now 3.2 s; results bit for bit the same).
"""

import numpy as np
from numba import njit

from lmmlasso_cli._numba import FASTMATH as _FASTMATH  # SIMD reductions, fused multiply-add

# Number of iterate differences used by Anderson extrapolation in cd_epochs (0 disables it).
ANDERSON_DEPTH = 5
# Relative rounding bound of a dot product x_jᵀR, in units of ‖x_j‖·‖R‖: a soft-threshold
# excess below it is treated as 0 (see cd_epochs).
SOFT_RTOL = 1e-11


@njit(cache=True, fastmath=_FASTMATH)
def _dot_column(X, j, v):
    """X[:, j]ᵀv for X (n, m) Fortran order."""
    acc = 0.0
    for i in range(X.shape[0]):
        acc += X[i, j] * v[i]
    return acc


@njit(cache=True, fastmath=_FASTMATH)
def _dot(a, b):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i] * b[i]
    return acc


@njit(cache=True)
def gap_from_parts(dual_norm, r_norm2, r_dot_y, w_l1, w_norm2, l1, l2):
    """Elastic-net duality gap from its scalar ingredients.

    dual_norm = max_j |(XᵀR − l2·w)_j| over ALL features, r_norm2 = ‖R‖², r_dot_y = Rᵀy,
    w_l1 = ‖w‖₁, w_norm2 = ‖w‖²; l1, l2 the absolute penalties of
    P(w) = ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖². Returns the absolute gap P(w) − D(const·R).
    """
    if dual_norm > l1:
        const = l1 / dual_norm
        gap = 0.5 * (r_norm2 + const * const * r_norm2)
    else:
        const = 1.0
        gap = r_norm2
    gap += l1 * w_l1 - const * r_dot_y + 0.5 * l2 * (1.0 + const * const) * w_norm2
    return gap


@njit(cache=True, fastmath=_FASTMATH)
def duality_gap(X, y, w, R, l1, l2):
    """Duality gap of P(w) = ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖² at w, with R = y − Xw given.

    X: (n, m) float64 Fortran order; y, R: (n,); w: (m,). Returns the absolute gap
    (compare it with tol·‖y‖²).
    """
    dual_norm = 0.0
    w_l1 = 0.0
    w_norm2 = 0.0
    for j in range(w.shape[0]):
        a = abs(_dot_column(X, j, R) - l2 * w[j])
        if a > dual_norm:
            dual_norm = a
        w_l1 += abs(w[j])
        w_norm2 += w[j] * w[j]
    r_norm2 = _dot(R, R)
    r_dot_y = _dot(R, y)
    return gap_from_parts(dual_norm, r_norm2, r_dot_y, w_l1, w_norm2, l1, l2)


@njit(cache=True)
def _anderson_weights(iterates):
    """Anderson extrapolation weights c (sum 1) minimizing ‖Σ_k c_k (x_{k+1} − x_k)‖ for
    iterates (depth + 1, m); returns an empty array if the small system is singular."""
    depth = iterates.shape[0] - 1
    m = iterates.shape[1]
    gram = np.zeros((depth, depth + 1))  # [UUᵀ | 1]
    for k in range(depth):
        for l in range(k, depth):
            acc = 0.0
            for j in range(m):
                acc += (iterates[k + 1, j] - iterates[k, j]) * (iterates[l + 1, j] - iterates[l, j])
            gram[k, l] = acc
            gram[l, k] = acc
        gram[k, depth] = 1.0
    for col in range(depth):  # Gaussian elimination, partial pivoting
        piv = col
        for r in range(col + 1, depth):
            if abs(gram[r, col]) > abs(gram[piv, col]):
                piv = r
        if gram[piv, col] == 0.0:
            return np.empty(0)
        if piv != col:
            for c in range(depth + 1):
                tmp = gram[col, c]
                gram[col, c] = gram[piv, c]
                gram[piv, c] = tmp
        for r in range(col + 1, depth):
            f = gram[r, col] / gram[col, col]
            for c in range(col, depth + 1):
                gram[r, c] -= f * gram[col, c]
    z = np.zeros(depth)
    for r in range(depth - 1, -1, -1):
        acc = gram[r, depth]
        for c in range(r + 1, depth):
            acc -= gram[r, c] * z[c]
        z[r] = acc / gram[r, r]
    total = 0.0
    for k in range(depth):
        total += z[k]
    if total == 0.0 or not np.isfinite(total):
        return np.empty(0)
    for k in range(depth):
        z[k] /= total
    return z


@njit(cache=True, fastmath=_FASTMATH)
def _primal(w, R, l1, l2):
    w_l1 = 0.0
    w_norm2 = 0.0
    for j in range(w.shape[0]):
        w_l1 += abs(w[j])
        w_norm2 += w[j] * w[j]
    return 0.5 * _dot(R, R) + l1 * w_l1 + 0.5 * l2 * w_norm2


@njit(cache=True, fastmath=_FASTMATH)
def _try_anderson(X, w, R, iterates, l1, l2):
    """Replace (w, R) by the Anderson extrapolation of `iterates` if it lowers the objective."""
    coefs = _anderson_weights(iterates)
    if coefs.size == 0:
        return
    m = w.shape[0]
    w_acc = np.zeros(m)
    for k in range(coefs.size):
        for j in range(m):
            w_acc[j] += coefs[k] * iterates[k + 1, j]
    n = R.shape[0]
    R_acc = np.empty(n)
    for i in range(n):
        R_acc[i] = R[i]
    for j in range(m):
        delta = w_acc[j] - w[j]
        if delta != 0.0:
            for i in range(X.shape[0]):
                R_acc[i] -= delta * X[i, j]
    if _primal(w_acc, R_acc, l1, l2) < _primal(w, R, l1, l2):
        for j in range(m):
            w[j] = w_acc[j]
        for i in range(n):
            R[i] = R_acc[i]


@njit(cache=True, fastmath=_FASTMATH)
def _soft_update(z, norm2, r_norm, l1, l2):
    """S(z, l1) / (norm2 + l2). |z| − l1 within the rounding of the dot product z (SOFT_RTOL ·
    ‖x_j‖·‖R‖) counts as 0: at a KKT boundary (e.g. an exact duplicate of an active column)
    rounding must not leave a 1e-17 coefficient that would count as a selected SNP."""
    slack = SOFT_RTOL * np.sqrt(norm2) * r_norm
    if z > l1 + slack:
        return (z - l1) / (norm2 + l2)
    if z < -l1 - slack:
        return (z + l1) / (norm2 + l2)
    return 0.0


@njit(cache=True, fastmath=_FASTMATH)
def cd_epochs(X, y, w, R, col_norm2, l1, l2, tol_gap, max_epochs, anderson_depth=ANDERSON_DEPTH):
    """Cyclic coordinate descent on P(w) = ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖².

    X: (n, m) float64 Fortran order; y: (n,); w: (m,) updated in place; R: (n,) must equal
    y − Xw on entry and is kept equal to it (updated in place); col_norm2: (m,) squared column
    norms (columns with norm 0 are skipped and their coefficient is left unchanged, so pass 0).
    One epoch updates every coordinate once, in index order:

        w_j ← S(x_jᵀR + ‖x_j‖²·w_j, l1) / (‖x_j‖² + l2),   S(z, t) = sign(z)·max(|z| − t, 0).

    Every anderson_depth + 1 epochs the last iterates are extrapolated (Anderson acceleration,
    as in skglm / celer) and the extrapolation is kept only if it lowers P; 0 disables it.
    The duality gap is computed after every epoch; the kernel stops as soon as it is ≤ tol_gap
    (absolute) or after max_epochs epochs. Returns (gap, n_epochs); with max_epochs ≤ 0 it
    returns the gap at entry and 0.
    """
    n_samples = X.shape[0]
    n_features = X.shape[1]
    if max_epochs <= 0:
        return duality_gap(X, y, w, R, l1, l2), 0
    iterates = np.empty((max(anderson_depth, 0) + 1, n_features))
    gap = np.inf
    for epoch in range(max_epochs):
        r_norm = np.sqrt(_dot(R, R))
        for j in range(n_features):
            norm2 = col_norm2[j]
            if norm2 == 0.0:
                continue
            w_old = w[j]
            z = _dot_column(X, j, R) + norm2 * w_old
            w_new = _soft_update(z, norm2, r_norm, l1, l2)
            if w_new != w_old:
                delta = w_new - w_old
                for i in range(n_samples):
                    R[i] -= delta * X[i, j]
                w[j] = w_new
        if anderson_depth > 0:
            slot = epoch % (anderson_depth + 1)
            for j in range(n_features):
                iterates[slot, j] = w[j]
            if slot == anderson_depth:
                _try_anderson(X, w, R, iterates, l1, l2)
        gap = duality_gap(X, y, w, R, l1, l2)
        if gap <= tol_gap:
            return gap, epoch + 1
    return gap, max_epochs


# ---------------------------------------------------------------------------------------------
# Gram (covariance) form: the same updates on G = XᵀX and c = XᵀR, for a working set small
# against n (glmnet's type.gaussian = "covariance"). An update of w_j costs O(m), not O(n).


@njit(cache=True, fastmath=_FASTMATH)
def _gram_measures(b, y_norm2, w, c, l1, l2):
    """(gap, primal P(w), ‖R‖²) from c = XᵀR, b = Xᵀy and ‖y‖², with Rᵀy = ‖y‖² − wᵀb and
    ‖R‖² = Rᵀy − wᵀc (one function: each numba function is compiled on a first run)."""
    dual_norm = 0.0
    w_l1 = 0.0
    w_norm2 = 0.0
    w_b = 0.0
    w_c = 0.0
    for j in range(w.shape[0]):
        a = abs(c[j] - l2 * w[j])
        if a > dual_norm:
            dual_norm = a
        w_l1 += abs(w[j])
        w_norm2 += w[j] * w[j]
        w_b += w[j] * b[j]
        w_c += w[j] * c[j]
    r_dot_y = y_norm2 - w_b
    r_norm2 = r_dot_y - w_c
    gap = gap_from_parts(dual_norm, r_norm2, r_dot_y, w_l1, w_norm2, l1, l2)
    return gap, 0.5 * r_norm2 + l1 * w_l1 + 0.5 * l2 * w_norm2, r_norm2


@njit(cache=True, fastmath=_FASTMATH)
def cd_epochs_gram(G, b, y_norm2, w, c, l1, l2, tol_gap, max_epochs, anderson_depth=ANDERSON_DEPTH):
    """`cd_epochs` on P(w) = ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖² through the Gram matrix.

    G = XᵀX (m, m) Fortran order (its diagonal the squared column norms; columns with norm 0
    are skipped, so pass their w as 0); b = Xᵀy (m,); y_norm2 = ‖y‖²; w (m,) updated in
    place; c (m,) must equal Xᵀ(y − Xw) on entry and is kept equal to it. The same cyclic
    updates, soft-threshold slack and Anderson steps as `cd_epochs`, with
    z = c_j + G_jj·w_j and c ← c − δ·G[:, j]; ‖R‖² = ‖y‖² − wᵀb − wᵀc and Rᵀy = ‖y‖² − wᵀb
    give the gap. Before returning converged, c is recomputed as b − Gw and the gap checked
    again, so rounding drift cannot certify. Returns (gap, n_epochs).
    """
    m = w.shape[0]
    if max_epochs <= 0:
        return _gram_measures(b, y_norm2, w, c, l1, l2)[0], 0
    depth = max(anderson_depth, 0)
    iterates = np.empty((depth + 1, m))
    w_acc = np.empty(m)
    c_acc = np.empty(m)
    gap, primal, r_norm2 = _gram_measures(b, y_norm2, w, c, l1, l2)
    for epoch in range(max_epochs):
        r_norm = np.sqrt(max(r_norm2, 0.0))
        for j in range(m):
            norm2 = G[j, j]
            if norm2 == 0.0:
                continue
            w_old = w[j]
            w_new = _soft_update(c[j] + norm2 * w_old, norm2, r_norm, l1, l2)
            if w_new != w_old:
                delta = w_new - w_old
                for k in range(m):
                    c[k] -= delta * G[k, j]
                w[j] = w_new
        gap, primal, r_norm2 = _gram_measures(b, y_norm2, w, c, l1, l2)
        if depth > 0:
            slot = epoch % (depth + 1)
            for j in range(m):
                iterates[slot, j] = w[j]
            coefs = _anderson_weights(iterates) if slot == depth else np.empty(0)
            if coefs.size:  # extrapolate; keep it if it lowers P (c follows w through G)
                for j in range(m):
                    w_acc[j] = 0.0
                for k in range(coefs.size):
                    for j in range(m):
                        w_acc[j] += coefs[k] * iterates[k + 1, j]
                for k in range(m):
                    c_acc[k] = c[k]
                for j in range(m):
                    delta = w_acc[j] - w[j]
                    if delta != 0.0:
                        for k in range(m):
                            c_acc[k] -= delta * G[k, j]
                trial = _gram_measures(b, y_norm2, w_acc, c_acc, l1, l2)
                if trial[1] < primal:
                    for j in range(m):
                        w[j] = w_acc[j]
                        c[j] = c_acc[j]
                    gap, primal, r_norm2 = trial
        if gap <= tol_gap:
            for k in range(m):  # c = b − G w exactly: drift must not certify
                c[k] = b[k]
            for j in range(m):
                if w[j] != 0.0:
                    for k in range(m):
                        c[k] -= w[j] * G[k, j]
            gap, primal, r_norm2 = _gram_measures(b, y_norm2, w, c, l1, l2)
            if gap <= tol_gap:
                return gap, epoch + 1
    return gap, max_epochs


@njit(cache=True)
def gram_gather(G_old, pos, G_new, rows):
    """G_new[rows[a], rows[b]] = G_old[pos[a], pos[b]]: the cached products of the features a
    new working set shares with the last one (Fortran order, column by column)."""
    k = pos.shape[0]
    for b in range(k):
        src = pos[b]
        dst = rows[b]
        for a in range(k):
            G_new[rows[a], dst] = G_old[pos[a], src]
