"""Numba kernels for the two N × K passes of the mixture's coordinate ascent.

:mod:`lmmlasso_cli.mlmages.mixture` is their only caller and defines the model. With
L_k the Cholesky factor of W_k (W_k = L_k L_kᵀ) and ``log_const[k]`` = E ln π_k + ½ E ln|Λ_k| −
(p/2) ln 2π:

- `e_step`: r_ik = softmax_k(log_const[k] − ½ ν_k |L_kᵀ x_i|²), written into ``resp``; returns
  Σ_ik r_ik ln r_ik (the −E ln q(z) term of the ELBO, with 0 ln 0 = 0).
- `scatter`: N_k = Σ_i r_ik and S_k = Σ_i r_ik x_i x_iᵀ.

Loops run in a fixed order with no BLAS and no parallel reduction, so the results do not
depend on the thread count.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def e_step(X, chol, dof, log_const, resp):
    n, p = X.shape
    K = chol.shape[0]
    row = np.empty(K)
    log_row = np.empty(K)
    entropy = 0.0
    for i in range(n):
        top = -np.inf
        for k in range(K):
            quad = 0.0
            for b in range(p):  # (L_kᵀ x)_b = Σ_a L_k[a, b] x_a, L lower: a ≥ b
                s = 0.0
                for a in range(b, p):
                    s += chol[k, a, b] * X[i, a]
                quad += s * s
            log_row[k] = log_const[k] - 0.5 * dof[k] * quad
            if log_row[k] > top:
                top = log_row[k]
        total = 0.0
        for k in range(K):
            log_row[k] -= top
            row[k] = np.exp(log_row[k])
            total += row[k]
        log_total = np.log(total)
        for k in range(K):
            r = row[k] / total
            resp[i, k] = r
            if r > 0.0:
                entropy += r * (log_row[k] - log_total)
    return entropy


@njit(cache=True)
def scatter(X, resp, counts, scatter_out):
    n, p = X.shape
    K = resp.shape[1]
    counts[:] = 0.0
    scatter_out[:] = 0.0
    for i in range(n):
        for k in range(K):
            r = resp[i, k]
            if r == 0.0:
                continue
            counts[k] += r
            for a in range(p):
                ra = r * X[i, a]
                for b in range(a, p):
                    scatter_out[k, a, b] += ra * X[i, b]
    for k in range(K):
        for a in range(p):
            for b in range(a + 1, p):
                scatter_out[k, b, a] = scatter_out[k, a, b]
