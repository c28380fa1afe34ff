"""Plain, obviously correct numpy/scipy oracles for the tests."""

import numpy as np
from scipy import linalg, optimize, stats


def dense_standardize(G):
    """Mean-impute NaN per column, then centre and scale to sd 1 (ddof 0)."""
    G = np.array(G, dtype=float)
    for j in range(G.shape[1]):
        col = G[:, j]
        m = np.nanmean(col)
        col[np.isnan(col)] = m
        G[:, j] = (col - m) / col.std()
    return G


def dense_kinship(G):
    """K = Z Zᵀ / p divided by its mean diagonal, from the full matrix at once."""
    Z = dense_standardize(G)
    K = Z @ Z.T / Z.shape[1]
    return K / np.mean(np.diag(K))


def dense_loglik(y, C, K, sigma2_g, sigma2_e, alpha):
    """log N(y; Cα, σg² K + σe² I) by scipy's multivariate normal."""
    V = sigma2_g * K + sigma2_e * np.eye(len(y))
    return stats.multivariate_normal.logpdf(y, mean=C @ alpha, cov=V)


def dense_reml_loglik(y, C, K, sigma2_g, sigma2_e):
    """Log density of the error contrasts Aᵀy, A an orthonormal basis of null(Cᵀ)."""
    A = linalg.null_space(C.T)
    V = sigma2_g * K + sigma2_e * np.eye(len(y))
    return stats.multivariate_normal.logpdf(A.T @ y, mean=np.zeros(A.shape[1]), cov=A.T @ V @ A)


def brute_force_ml(y, C, K, start):
    """Maximise the dense ML log-likelihood jointly over (log σg², log σe², α): BFGS with
    finite differences, then a Nelder-Mead polish. No profiling, no eigendecomposition."""

    def nll(theta):
        return -dense_loglik(y, C, K, np.exp(theta[0]), np.exp(theta[1]), theta[2:])

    res = optimize.minimize(nll, start, method="BFGS", options={"gtol": 1e-8})
    return optimize.minimize(
        nll, res.x, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-11, "maxfev": 4000}
    )


def brute_force_reml(y, C, K, start):
    def nll(theta):
        return -dense_reml_loglik(y, C, K, np.exp(theta[0]), np.exp(theta[1]))

    return optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}
    )
