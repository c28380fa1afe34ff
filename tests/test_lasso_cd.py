"""Tests of the numba coordinate-descent kernels (lmmlasso_cli.lasso._cd), kernel scaling:

P(w) = ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖²,  scikit-learn: alpha = (l1 + l2)/n,
l1_ratio = l1/(l1 + l2), fit_intercept=False.
"""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso

from lmmlasso_cli.lasso import _cd

TIGHT_TOL = 1e-12  # relative duality-gap tolerance for "exact" solves (ours and sklearn)
COEF_ATOL = 1e-6  # coefficients vs scikit-learn
GAP_RTOL = 1e-9  # kernel gap vs independent numpy gap, relative to ‖y‖²
SKLEARN_MAX_ITER = 1_000_000
MAX_EPOCHS = 100_000


def correlated_problem(n_samples=60, n_features=30, rho=0.6, seed=0):
    """Random design with AR(1)-correlated columns, 5 true effects, Fortran order."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_samples, n_features))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, n_features):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    coefs = np.zeros(n_features)
    coefs[rng.choice(n_features, 5, replace=False)] = rng.standard_normal(5)
    y = X @ coefs + 0.5 * rng.standard_normal(n_samples)
    return np.asfortranarray(X), y


def solve(X, y, l1, l2, tol=TIGHT_TOL, max_epochs=MAX_EPOCHS, w=None, anderson_depth=None):
    w = np.zeros(X.shape[1]) if w is None else w.copy()
    R = y - X @ w
    norms = np.einsum("ij,ij->j", X, X)
    args = (X, y, w, R, norms, l1, l2, tol * (y @ y), max_epochs)
    if anderson_depth is not None:
        args = args + (anderson_depth,)
    gap, n_epochs = _cd.cd_epochs(*args)
    return w, R, gap, n_epochs


def numpy_gap(X, y, w, l1, l2):
    """Independent duality gap: primal minus the dual of the augmented Lasso
    X' = [X; √l2 I], y' = [y; 0] at the dual-feasible scaled residual θ = s·(y' − X'w)."""
    m = X.shape[1]
    X_aug = np.vstack([X, np.sqrt(l2) * np.eye(m)])
    y_aug = np.concatenate([y, np.zeros(m)])
    r_aug = y_aug - X_aug @ w
    primal = 0.5 * np.sum((y - X @ w) ** 2) + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w
    scale = min(1.0, l1 / np.max(np.abs(X_aug.T @ r_aug)))
    theta = scale * r_aug
    dual = theta @ y_aug - 0.5 * theta @ theta
    return primal - dual


@pytest.fixture(scope="module")
def problem():
    return correlated_problem()


@pytest.mark.parametrize("frac", [0.5, 0.1, 0.01])
def test_lasso_matches_sklearn(problem, frac):
    X, y = problem
    n = X.shape[0]
    mu = frac * np.max(np.abs(X.T @ y))
    w, R, gap, _ = solve(X, y, mu, 0.0)
    ref = Lasso(alpha=mu / n, fit_intercept=False, tol=TIGHT_TOL, max_iter=SKLEARN_MAX_ITER).fit(
        X, y
    )
    np.testing.assert_allclose(w, ref.coef_, rtol=0, atol=COEF_ATOL)
    assert gap <= TIGHT_TOL * (y @ y)
    np.testing.assert_allclose(R, y - X @ w, rtol=0, atol=1e-10)


@pytest.mark.parametrize("l1_ratio", [0.9, 0.5, 0.1])
def test_elastic_net_matches_sklearn(problem, l1_ratio):
    X, y = problem
    n = X.shape[0]
    mu = 0.05 * np.max(np.abs(X.T @ y)) / l1_ratio
    w, _, gap, _ = solve(X, y, mu * l1_ratio, mu * (1 - l1_ratio))
    ref = ElasticNet(
        alpha=mu / n,
        l1_ratio=l1_ratio,
        fit_intercept=False,
        tol=TIGHT_TOL,
        max_iter=SKLEARN_MAX_ITER,
    ).fit(X, y)
    np.testing.assert_allclose(w, ref.coef_, rtol=0, atol=COEF_ATOL)
    assert gap <= TIGHT_TOL * (y @ y)


def test_orthogonal_design_closed_form():
    """For orthogonal columns, w_j = S(x_jᵀy, l1) / (‖x_j‖² + l2) exactly."""
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((50, 8)))
    X = np.asfortranarray(Q * np.arange(1.0, 9.0))
    y = rng.standard_normal(50) * 3
    l1, l2 = 0.4, 0.3
    w, _, _, _ = solve(X, y, l1, l2)
    z = X.T @ y
    expected = np.sign(z) * np.maximum(np.abs(z) - l1, 0) / (np.sum(X**2, axis=0) + l2)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-12)
    assert np.count_nonzero(expected) not in (0, 8)  # the toy case exercises both branches


@pytest.mark.parametrize("l2", [0.0, 2.0])
@pytest.mark.parametrize("epochs", [1, 3])
def test_gap_equals_independent_gap(problem, l2, epochs):
    X, y = problem
    l1 = 0.05 * np.max(np.abs(X.T @ y))
    w, R, gap, n_epochs = solve(X, y, l1, l2, max_epochs=epochs, anderson_depth=0)
    assert n_epochs == epochs
    expected = numpy_gap(X, y, w, l1, l2)
    assert expected > TIGHT_TOL * (y @ y)  # not converged: a non-trivial gap
    assert abs(gap - expected) <= GAP_RTOL * (y @ y)
    assert abs(_cd.duality_gap(X, y, w, R, l1, l2) - expected) <= GAP_RTOL * (y @ y)
    from lmmlasso_cli.lasso.path import _global_gap, _State

    from_corr = _global_gap(y, _State(w, R, X.T @ R), l1, l2)  # the working-set certificate
    assert abs(from_corr - expected) <= GAP_RTOL * (y @ y)


def test_gap_at_zero_and_below_threshold():
    """At w = 0 with max|Xᵀy| ≤ l1, w = 0 is optimal and the gap is exactly 0."""
    X, y = correlated_problem(seed=4)
    l1 = 1.01 * np.max(np.abs(X.T @ y))
    w = np.zeros(X.shape[1])
    assert _cd.duality_gap(X, y, w, y.copy(), l1, 0.0) == pytest.approx(0.0, abs=1e-12 * (y @ y))


def test_warm_restart_at_optimum_takes_one_epoch(problem):
    X, y = problem
    l1 = 0.1 * np.max(np.abs(X.T @ y))
    w, _, _, n_epochs = solve(X, y, l1, 0.0)
    assert n_epochs > 1
    w2, _, gap2, n_epochs2 = solve(X, y, l1, 0.0, w=w)
    assert n_epochs2 == 1
    assert gap2 <= TIGHT_TOL * (y @ y)
    np.testing.assert_allclose(w2, w, rtol=0, atol=1e-10)


def test_anderson_does_not_change_the_solution(problem):
    X, y = problem
    l1 = 0.02 * np.max(np.abs(X.T @ y))
    plain, _, _, _ = solve(X, y, l1, 0.0, anderson_depth=0)
    accelerated, _, _, _ = solve(X, y, l1, 0.0, anderson_depth=5)
    np.testing.assert_allclose(accelerated, plain, rtol=0, atol=COEF_ATOL)


def test_max_epochs_zero_returns_entry_gap(problem):
    X, y = problem
    l1 = 0.1 * np.max(np.abs(X.T @ y))
    w, _, gap, n_epochs = solve(X, y, l1, 0.0, max_epochs=0)
    assert n_epochs == 0
    assert np.all(w == 0)
    assert abs(gap - numpy_gap(X, y, w, l1, 0.0)) <= GAP_RTOL * (y @ y)


@pytest.mark.parametrize("l2", [0.0, 1.0])
def test_duplicated_and_zero_columns(problem, l2):
    X, y = problem
    X = np.asfortranarray(np.column_stack([X, X[:, 3], X[:, 3], np.zeros(X.shape[0])]))
    n, m = X.shape
    l1 = 0.05 * np.max(np.abs(X.T @ y))
    w, _, gap, _ = solve(X, y, l1, l2)
    assert gap <= TIGHT_TOL * (y @ y)
    assert abs(gap - numpy_gap(X, y, w, l1, l2)) <= GAP_RTOL * (y @ y)
    assert w[m - 1] == 0.0
    mu = l1 + l2
    ref = ElasticNet(
        alpha=mu / n,
        l1_ratio=l1 / mu,
        fit_intercept=False,
        tol=TIGHT_TOL,
        max_iter=SKLEARN_MAX_ITER,
    ).fit(X, y)
    dup = [3, m - 3, m - 2]
    assert abs(w[dup].sum() - ref.coef_[dup].sum()) <= COEF_ATOL
    others = np.setdiff1d(np.arange(m), dup)
    np.testing.assert_allclose(w[others], ref.coef_[others], rtol=0, atol=COEF_ATOL)
    np.testing.assert_allclose(X @ w, X @ ref.coef_, rtol=0, atol=10 * COEF_ATOL)


def solve_gram(X, y, l1, l2, tol=TIGHT_TOL, max_epochs=MAX_EPOCHS, w=None, anderson_depth=None):
    w = np.zeros(X.shape[1]) if w is None else w.copy()
    G = np.asfortranarray(X.T @ X)
    c = X.T @ (y - X @ w)
    args = (G, X.T @ y, float(y @ y), w, c, l1, l2, tol * (y @ y), max_epochs)
    if anderson_depth is not None:
        args = args + (anderson_depth,)
    gap, n_epochs = _cd.cd_epochs_gram(*args)
    return w, c, gap, n_epochs


@pytest.mark.parametrize("l2", [0.0, 1.5])
@pytest.mark.parametrize("anderson_depth", [0, 5])
def test_gram_form_reaches_the_same_optimum(problem, l2, anderson_depth):
    """The Gram (covariance) kernel: sklearn's coefficients, its gap equal to the independent
    gap, and c kept equal to Xᵀ(y − Xw)."""
    X, y = problem
    n = X.shape[0]
    l1 = 0.05 * np.max(np.abs(X.T @ y))
    w, c, gap, _ = solve_gram(X, y, l1, l2, anderson_depth=anderson_depth)
    mu = l1 + l2
    ref = ElasticNet(
        alpha=mu / n, l1_ratio=l1 / mu, fit_intercept=False, tol=TIGHT_TOL,
        max_iter=SKLEARN_MAX_ITER,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(w, ref.coef_, rtol=0, atol=COEF_ATOL)
    assert gap <= TIGHT_TOL * (y @ y)
    assert abs(gap - numpy_gap(X, y, w, l1, l2)) <= GAP_RTOL * (y @ y)
    np.testing.assert_allclose(c, X.T @ (y - X @ w), rtol=0, atol=1e-10 * np.sqrt(y @ y))


@pytest.mark.parametrize("epochs", [1, 4])
def test_gram_gap_equals_independent_gap_before_convergence(problem, epochs):
    X, y = problem
    l1 = 0.02 * np.max(np.abs(X.T @ y))
    w, _, gap, n_epochs = solve_gram(X, y, l1, 0.5, max_epochs=epochs, anderson_depth=0)
    assert n_epochs == epochs
    expected = numpy_gap(X, y, w, l1, 0.5)
    assert expected > TIGHT_TOL * (y @ y)
    assert abs(gap - expected) <= GAP_RTOL * (y @ y)
    plain, _, _, _ = solve(X, y, l1, 0.5, max_epochs=epochs, anderson_depth=0)
    np.testing.assert_allclose(w, plain, rtol=0, atol=1e-12)  # the same updates in order


def test_gram_form_with_duplicated_and_zero_columns(problem):
    X, y = problem
    X = np.asfortranarray(np.column_stack([X, X[:, 3], X[:, 3], np.zeros(X.shape[0])]))
    m = X.shape[1]
    l1 = 0.05 * np.max(np.abs(X.T @ y))
    w, _, gap, _ = solve_gram(X, y, l1, 0.0)
    plain, _, _, _ = solve(X, y, l1, 0.0)
    assert gap <= TIGHT_TOL * (y @ y) and w[m - 1] == 0.0
    dup = [3, m - 3, m - 2]
    assert abs(w[dup].sum() - plain[dup].sum()) <= COEF_ATOL
    others = np.setdiff1d(np.arange(m), dup)
    np.testing.assert_allclose(w[others], plain[others], rtol=0, atol=COEF_ATOL)
