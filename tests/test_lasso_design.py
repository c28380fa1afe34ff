"""Tests of lmmlasso_cli.lasso.design: DenseDesign and the LMM design X̃ = P D Uᵀ X, with
K = U diag(S) Uᵀ, D = diag((S + δ)^−½), C̃ = D Uᵀ C and P the projection off range(C̃)."""

import numpy as np
import pytest
import scipy.linalg as sla
from sklearn.linear_model import Lasso

from lmmlasso_cli.lasso.design import DenseDesign, Design, RotatedDesign
from lmmlasso_cli.lasso.path import fit_lasso, mu_max

ROT_ATOL = 1e-10  # rotated columns / Gram matrices vs explicit dense formulas
TIGHT_TOL = 1e-12  # relative duality-gap tolerance for "exact" Lasso solves
COEF_ATOL = 1e-6  # Lasso coefficients vs an independent solver
KKT_ATOL = 1e-6  # KKT residuals of the joint (α, w) problem, relative to μ
ALPHA_ATOL = 1e-8  # covariate coefficients vs the GLS formula
DELTA = 0.7
N_SAMPLES, N_SNPS = 40, 30


@pytest.fixture(scope="module")
def lmm():
    """Kinship from 25 'genotypes' (rank-deficient K), standardized SNPs, phenotype, covariates."""
    rng = np.random.default_rng(0)
    G = rng.binomial(2, 0.3, size=(N_SAMPLES, 25)).astype(float)
    G = (G - G.mean(0)) / G.std(0)
    K = G @ G.T / G.shape[1]
    eigvals, eigvecs = np.linalg.eigh(K)
    X = rng.standard_normal((N_SAMPLES, N_SNPS))
    X = (X - X.mean(0)) / X.std(0)
    C = np.column_stack([np.ones(N_SAMPLES), rng.standard_normal(N_SAMPLES)])
    alpha = np.array([2.0, -0.5])
    w = np.zeros(N_SNPS)
    w[[2, 11, 17]] = [1.0, -0.8, 0.6]
    L = np.linalg.cholesky(K + DELTA * np.eye(N_SAMPLES))
    y = C @ alpha + X @ w + L @ rng.standard_normal(N_SAMPLES)
    return dict(K=K, eigvals=eigvals, eigvecs=eigvecs, X=X, C=C, y=y, L=L)


def explicit_rotation(lmm, C):
    """Dense P D Uᵀ built independently: P = I − C̃ C̃⁺ via the pseudo-inverse."""
    DUt = np.diag(1 / np.sqrt(lmm["eigvals"] + DELTA)) @ lmm["eigvecs"].T
    Ct = DUt @ C
    P = np.eye(N_SAMPLES) - Ct @ np.linalg.pinv(Ct)
    return P @ DUt


def whiten_chol(lmm, M):
    return sla.solve_triangular(lmm["L"], M, lower=True)


@pytest.mark.parametrize("order", ["C", "F"])
def test_columns_equal_explicit_rotation(lmm, order):
    X = np.asarray(lmm["X"], order=order)
    design = RotatedDesign(X, lmm["eigvecs"], lmm["eigvals"], DELTA, lmm["C"])
    assert design.X.matrix is X  # held, not copied
    full = explicit_rotation(lmm, lmm["C"]) @ lmm["X"]
    idx = np.array([5, 0, 29, 5, 12])
    cols = design.columns(idx)
    assert cols.flags.f_contiguous and cols.dtype == np.float64
    np.testing.assert_allclose(cols, full[:, idx], rtol=0, atol=ROT_ATOL)
    np.testing.assert_array_equal(design.columns(idx), cols)  # from the cache
    assert design.n_rotated == 4  # 4 distinct SNPs
    np.testing.assert_allclose(design.columns(np.arange(N_SNPS)), full, rtol=0, atol=ROT_ATOL)
    assert design.n_rotated == N_SNPS


def test_cache_eviction_keeps_results_exact(lmm):
    budget = 3 * 8 * N_SAMPLES  # room for 3 columns
    design = RotatedDesign(
        lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, lmm["C"], max_cache_bytes=budget
    )
    full = explicit_rotation(lmm, lmm["C"]) @ lmm["X"]
    for idx in ([0, 1], [2, 3], [0, 4, 5], np.arange(10), [1]):
        np.testing.assert_allclose(
            design.columns(np.array(idx)), full[:, idx], rtol=0, atol=ROT_ATOL
        )
    assert design.n_rotated > N_SNPS // 3  # evictions happened


def test_correlations_and_target(lmm):
    design = RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, lmm["C"])
    rot = explicit_rotation(lmm, lmm["C"])
    v = np.random.default_rng(1).standard_normal(N_SAMPLES)
    np.testing.assert_allclose(
        design.correlations(v), (rot @ lmm["X"]).T @ v, rtol=0, atol=ROT_ATOL
    )
    assert design.n_rotated == 0  # X was never rotated
    np.testing.assert_allclose(
        design.rotate_target(lmm["y"]), rot @ lmm["y"], rtol=0, atol=ROT_ATOL
    )
    M = np.random.default_rng(2).standard_normal((N_SAMPLES, 3))
    np.testing.assert_allclose(design.rotate(M), rot @ M, rtol=0, atol=ROT_ATOL)
    # covariates are projected out: X̃ᵀ and ỹ are orthogonal to D Uᵀ C
    assert np.abs(design.rotate(lmm["C"])).max() < ROT_ATOL


def test_rank_deficient_covariates(lmm):
    C = np.column_stack([lmm["C"], 2 * lmm["C"][:, 1]])  # a collinear column
    design = RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, C)
    assert design.n_covariates == 3 and design.covariate_rank == 2
    full = explicit_rotation(lmm, C) @ lmm["X"]
    np.testing.assert_allclose(design.columns(np.arange(N_SNPS)), full, rtol=0, atol=ROT_ATOL)


def test_rotation_equals_cholesky_whitening(lmm):
    """D Uᵀ and L⁻¹ (L = chol(K + δI)) differ by an orthogonal matrix: same Gram matrices."""
    design = RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA)
    assert design.covariate_rank == 0
    Xr = design.columns(np.arange(N_SNPS))
    Xl = whiten_chol(lmm, lmm["X"])
    direct = lmm["X"].T @ np.linalg.solve(lmm["K"] + DELTA * np.eye(N_SAMPLES), lmm["X"])
    np.testing.assert_allclose(Xr.T @ Xr, direct, rtol=0, atol=ROT_ATOL)
    np.testing.assert_allclose(Xl.T @ Xl, direct, rtol=0, atol=ROT_ATOL)
    yr, yl = design.rotate_target(lmm["y"]), whiten_chol(lmm, lmm["y"])
    np.testing.assert_allclose(Xr.T @ yr, Xl.T @ yl, rtol=0, atol=ROT_ATOL)
    mu = 0.2 * mu_max(design, yr)
    ours = fit_lasso(design, yr, mu, tol=TIGHT_TOL)
    chol = fit_lasso(DenseDesign(Xl), yl, mu, tol=TIGHT_TOL)
    assert ours.n_active > 0
    np.testing.assert_allclose(ours.coefs, chol.coefs, rtol=0, atol=COEF_ATOL)


def gls_lasso_oracle(lmm, mu, n_rounds=5000):
    """Independent joint fit of min_{α,w} ½‖L⁻¹(y − Cα − Xw)‖² + μ‖w‖₁ by block coordinate
    descent: exact least squares in α, scikit-learn Lasso in w."""
    Xl, Cl, yl = (whiten_chol(lmm, M) for M in (lmm["X"], lmm["C"], lmm["y"]))
    n = N_SAMPLES
    lasso = Lasso(
        alpha=mu / n, fit_intercept=False, tol=TIGHT_TOL, max_iter=1_000_000, warm_start=True
    )
    w = np.zeros(N_SNPS)
    for _ in range(n_rounds):
        alpha = np.linalg.lstsq(Cl, yl - Xl @ w, rcond=None)[0]
        w_new = lasso.fit(Xl, yl - Cl @ alpha).coef_.copy()
        if np.max(np.abs(w_new - w)) < 1e-12:
            break
        w = w_new
    return w_new, alpha


def test_covariates_match_gls_lasso(lmm):
    design = RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, lmm["C"])
    yr = design.rotate_target(lmm["y"])
    mu = 0.15 * mu_max(design, yr)
    fit = fit_lasso(design, yr, mu, tol=TIGHT_TOL)
    assert 0 < fit.n_active < N_SNPS
    w_ref, alpha_ref = gls_lasso_oracle(lmm, mu)
    np.testing.assert_allclose(fit.coefs, w_ref, rtol=0, atol=COEF_ATOL)
    alpha = design.covariate_coefs(lmm["y"], fit.coefs)
    np.testing.assert_allclose(alpha, alpha_ref, rtol=0, atol=10 * COEF_ATOL)
    # GLS formula for α given w: (CᵀV⁻¹C)⁻¹ CᵀV⁻¹(y − Xw), V = K + δI
    V = lmm["K"] + DELTA * np.eye(N_SAMPLES)
    C = lmm["C"]
    gls = np.linalg.solve(
        C.T @ np.linalg.solve(V, C), C.T @ np.linalg.solve(V, lmm["y"] - lmm["X"] @ fit.coefs)
    )
    np.testing.assert_allclose(alpha, gls, rtol=0, atol=ALPHA_ATOL)
    # KKT conditions of the joint problem in the Cholesky-whitened coordinates
    Xl, Cl, yl = (whiten_chol(lmm, M) for M in (lmm["X"], C, lmm["y"]))
    r = yl - Cl @ alpha - Xl @ fit.coefs
    assert np.abs(Cl.T @ r).max() <= KKT_ATOL * mu
    grad = Xl.T @ r
    active = fit.coefs != 0
    np.testing.assert_allclose(
        grad[active], mu * np.sign(fit.coefs[active]), rtol=0, atol=KKT_ATOL * mu
    )
    assert np.abs(grad[~active]).max() <= mu * (1 + KKT_ATOL)


def test_covariate_coefs_without_covariates(lmm):
    design = RotatedDesign(
        lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, np.empty((N_SAMPLES, 0))
    )
    assert design.covariate_coefs(lmm["y"], np.zeros(N_SNPS)).shape == (0,)


def test_dense_design(lmm):
    for X in (lmm["X"], np.asfortranarray(lmm["X"])):
        design = DenseDesign(X)
        assert isinstance(design, Design)
        assert np.shares_memory(design.X, X)
        idx = np.array([3, 1, 3])
        cols = design.columns(idx)
        assert cols.flags.f_contiguous
        np.testing.assert_array_equal(cols, X[:, idx])
        v = np.arange(N_SAMPLES, dtype=float)
        np.testing.assert_allclose(design.correlations(v), X.T @ v, rtol=1e-14)
        assert design.columns(np.array([], dtype=int)).shape == (N_SAMPLES, 0)
    assert isinstance(RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA), Design)


def test_design_input_errors(lmm):
    with pytest.raises(ValueError, match="float64"):
        DenseDesign(lmm["X"].astype(np.float32))
    with pytest.raises(ValueError, match="eigvals \\+ delta must be positive"):
        RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"] - 5.0, DELTA)
    with pytest.raises(ValueError, match="eigvecs must have shape"):
        RotatedDesign(lmm["X"], lmm["eigvecs"][:-1], lmm["eigvals"], DELTA)
    with pytest.raises(ValueError, match="covariates must have shape"):
        RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], DELTA, lmm["C"][:-1])
    with pytest.raises(ValueError, match="column indices must lie in"):
        DenseDesign(lmm["X"]).columns(np.array([N_SNPS]))
    with pytest.raises(ValueError, match="delta must be a positive"):
        RotatedDesign(lmm["X"], lmm["eigvecs"], lmm["eigvals"], 0.0)
