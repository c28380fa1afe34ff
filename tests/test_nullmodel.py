import warnings

import numpy as np
import pytest
from _reference import (
    brute_force_ml,
    brute_force_reml,
    dense_kinship,
    dense_loglik,
    dense_reml_loglik,
)

from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
from lmmlasso_cli.settings import NullSearch

LOGLIK_TOL = 1e-8
BRUTE_LOGLIK_TOL = 1e-5
BRUTE_H2_TOL = 2e-3


def simulate(rng, n=150, p=400, h2=0.6, n_cov=2):
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    K = dense_kinship(G)
    C = np.column_stack([np.ones(n)] + [rng.standard_normal(n) for _ in range(n_cov - 1)])
    L = np.linalg.cholesky(K + 1e-9 * np.eye(n))
    y = C @ rng.standard_normal(n_cov) + np.sqrt(h2) * L @ rng.standard_normal(n)
    y += np.sqrt(1 - h2) * rng.standard_normal(n)
    return y, C, K


@pytest.fixture(scope="module")
def problem():
    return simulate(np.random.default_rng(7), n=100, p=300, h2=0.5)  # interior optimum


def test_ml_loglik_equals_dense_logpdf(problem):
    y, C, K = problem
    null = fit_null_model(y, eigendecompose(K), C)
    dense = dense_loglik(y, C, K, null.sigma2_g, null.sigma2_e, null.coefs)
    assert null.loglik == pytest.approx(dense, abs=LOGLIK_TOL)
    V = null.sigma2_g * K + null.sigma2_e * np.eye(len(y))
    Vi_C = np.linalg.solve(V, C)
    gls = np.linalg.solve(C.T @ Vi_C, Vi_C.T @ y)
    np.testing.assert_allclose(null.coefs, gls, atol=1e-8)
    np.testing.assert_allclose(
        null.coefs_se, np.sqrt(np.diag(np.linalg.inv(C.T @ Vi_C))), rtol=1e-6
    )


def test_ml_estimate_equals_brute_force(problem):
    y, C, K = problem
    null = fit_null_model(y, eigendecompose(K), C)
    assert not null.at_boundary
    start = np.r_[np.log(0.5), np.log(0.5), np.zeros(C.shape[1])]
    res = brute_force_ml(y, C, K, start)
    assert -res.fun <= null.loglik + 1e-9  # the profile search is never beaten
    assert null.loglik == pytest.approx(-res.fun, abs=BRUTE_LOGLIK_TOL)
    s2g, s2e = np.exp(res.x[:2])
    assert null.h2 == pytest.approx(s2g / (s2g + s2e), abs=BRUTE_H2_TOL)


def test_reml_loglik_equals_contrast_density(problem):
    y, C, K = problem
    null = fit_null_model(y, eigendecompose(K), C, NullSearch(reml=True))
    dense = dense_reml_loglik(y, C, K, null.sigma2_g, null.sigma2_e)
    assert null.loglik == pytest.approx(dense, abs=LOGLIK_TOL)
    res = brute_force_reml(y, C, K, np.log([0.5, 0.5]))
    assert null.loglik == pytest.approx(-res.fun, abs=BRUTE_LOGLIK_TOL)
    s2g, s2e = np.exp(res.x)
    assert null.h2 == pytest.approx(s2g / (s2g + s2e), abs=BRUTE_H2_TOL)


@pytest.mark.filterwarnings("ignore::lmmlasso_cli.errors.ConvergenceWarning")
def test_reml_variance_uses_n_minus_c(problem):
    """REML σg² is RSS/(n−c) where ML's is RSS/n at the same δ (textbook forms)."""
    y, C, K = problem
    eig = eigendecompose(K)
    ml = fit_null_model(y, eig, C, NullSearch(n_grid=2, log_delta_range=(0.2, 0.2 + 1e-12)))
    reml = fit_null_model(
        y, eig, C, NullSearch(reml=True, n_grid=2, log_delta_range=(0.2, 0.2 + 1e-12))
    )
    n, c = C.shape
    assert reml.sigma2_g == pytest.approx(ml.sigma2_g * n / (n - c), rel=1e-9)


@pytest.mark.filterwarnings("ignore::lmmlasso_cli.errors.ConvergenceWarning")
def test_no_covariates_matches_original_lmm_lasso_formula(problem):
    y, _, K = problem
    eig = eigendecompose(K)
    null = fit_null_model(y, eig, None)
    # nLLeval of Rakitsch et al.: 0.5 (n log 2π + Σ log(S+δ) + n + n log(mean(Uy² /(S+δ))))
    uy = eig.eigvecs.T @ y
    sd = eig.eigvals + null.delta
    n = len(y)
    nll = 0.5 * (n * np.log(2 * np.pi) + np.log(sd).sum() + n + n * np.log(np.mean(uy**2 / sd)))
    assert null.loglik == pytest.approx(-nll, abs=LOGLIK_TOL)


def test_h2_recovered_and_se_calibrated():
    rng = np.random.default_rng(11)
    n, p, true_h2, reps = 400, 600, 0.5, 30
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    K = dense_kinship(G)
    eig = eigendecompose(K)
    L = eig.eigvecs * np.sqrt(eig.eigvals)
    C = np.ones((n, 1))
    est, ses = [], []
    for _ in range(reps):
        y = np.sqrt(true_h2) * L @ rng.standard_normal(n)
        y += np.sqrt(1 - true_h2) * rng.standard_normal(n)
        null = fit_null_model(y, eig, C, NullSearch(reml=True))
        est.append(null.h2)
        ses.append(null.h2_se)
    est, ses = np.array(est), np.array(ses)
    assert abs(est.mean() - true_h2) < 3 * est.std() / np.sqrt(reps)
    assert 0.7 < np.mean(ses) / est.std() < 1.4


def test_boundary_optimum_warns():
    rng = np.random.default_rng(5)
    n = 120
    G = rng.binomial(2, 0.3, size=(n, 300)).astype(float)
    K = dense_kinship(G)
    y = rng.standard_normal(n)  # no genetic signal: h² estimate at or near 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        null = fit_null_model(
            y, eigendecompose(K), np.ones((n, 1)), NullSearch(log_delta_range=(-5, -1))
        )
    assert null.at_boundary and np.isnan(null.h2_se)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_singular_covariates_rejected(problem):
    y, C, K = problem
    C2 = np.column_stack([C, 2 * C[:, 1]])
    with pytest.raises(InputError, match="linearly dependent"):
        fit_null_model(y, eigendecompose(K), C2)


def test_eigendecompose_clips_rounding_and_refuses_an_indefinite_matrix():
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.nullmodel import PSD_RTOL, eigendecompose

    rng = np.random.default_rng(11)
    Q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    values = np.linspace(0.0, 2.0, 40)
    values[0] = -0.5 * PSD_RTOL * 2.0  # rounding below zero, as a float32 kinship leaves
    eig = eigendecompose(Q @ np.diag(values) @ Q.T)
    assert eig.n_clipped >= 1 and eig.eigvals.min() >= 0
    values[0] = -0.1
    with pytest.raises(InputError, match="not positive semi-definite"):
        eigendecompose(Q @ np.diag(values) @ Q.T)


def test_eigendecompose_in_place_gives_the_same_bits():
    """overwrite=True (the training sets' own copies) reuses the matrix's memory for the
    eigenvectors and changes no bit; the input then holds the eigenvectors."""
    from lmmlasso_cli.nullmodel import eigendecompose

    rng = np.random.default_rng(3)
    Z = rng.standard_normal((60, 200))
    K = Z @ Z.T / 200
    K = (K + K.T) / 2  # exactly symmetric, as a kinship is
    plain = eigendecompose(K.copy())
    own = np.ascontiguousarray(K)
    in_place = eigendecompose(own, overwrite=True)
    assert in_place.eigvals.tobytes() == plain.eigvals.tobytes()
    assert in_place.eigvecs.tobytes() == plain.eigvecs.tobytes()
    assert np.shares_memory(in_place.eigvecs, own)
