"""LMM-Lasso (Rakitsch et al. 2013): a Lasso on phenotype and SNPs whitened by the null LMM.

With the null model's K = U diag(S) Uᵀ and δ = σe²/σg², D = diag((S + δ)^-1/2), standardized
SNPs X, phenotype y and covariates C (the intercept among them):

    X̃ = P D Uᵀ X,   ỹ = P D Uᵀ y,   P = I − Q Qᵀ,  Q an orthonormal basis of D Uᵀ C,

and the fixed SNP effects solve

    minimize over w:  ½‖ỹ − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1 − r)·‖w‖²

with μ absolute (not divided by n) and r the l1 ratio (r = 1: the Lasso of the paper). The
covariates stay unpenalized: projecting them out (Frisch–Waugh–Lovell) gives the same w as
the joint problem, and α̂ = GLS of y − Xw on C afterwards. With ``eig=None`` the rotation is
the identity: a plain Lasso with unpenalized covariates (the baseline without kinship).

Exactly duplicated SNP columns (common in real data) make the optimum non-unique: any split of
an effect between the copies is optimal. They are fitted once: the first copy (in column order)
carries the effect and later copies keep w = 0 (`duplicate_columns`, `_WithoutDuplicates`).

Only the SNPs that enter the solver's working set are rotated (n² flops each); screening uses
X̃ᵀv = Xᵀ U D P v, a matrix–vector product (see `lasso.design.RotatedDesign`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lmmlasso_cli.compact import as_genotypes
from lmmlasso_cli.lasso.design import RotatedDesign
from lmmlasso_cli.lasso.path import LassoPath, fit_lasso, fit_lasso_path, fit_n_active, mu_max
from lmmlasso_cli.nullmodel import KinshipEigen
from lmmlasso_cli.settings import LassoSettings, MuGrid


@dataclass(frozen=True)
class LmmLassoFit:
    """Fixed SNP effects along μ, with what prediction needs (arrays indexed by μ first).

    ``blup_residual[k]`` is a = (K + δI)⁻¹ (y − Cα̂ − Xw) for the k-th μ: the BLUP of the random
    effect at new individuals v is K_vt a.
    """

    path: LassoPath  # mus, coefs (sparse, standardized scale), gaps, converged, ...
    covariate_coefs: np.ndarray  # (n_mu, n_covariates)
    blup_residual: np.ndarray  # (n_mu, n_samples); zeros without a kinship
    log_delta: float  # NaN without a kinship
    train_fixed: np.ndarray  # (n_mu, n_samples) X w + C α̂ on the training individuals
    mu_max: float
    n_duplicates: int = 0  # columns identical to an earlier column, held at w = 0

    @property
    def n_mu(self) -> int:
        return len(self.path.mus)


@dataclass(frozen=True)
class LmmStep:
    """The LMM-Lasso fit at one μ of a path, as the path goes (see `fit_lmm_lasso`'s ``stop``):
    coefs (n_snps,) w; covariate_coefs (n_covariates,) α̂; blup_residual (n_samples,)
    a = (K + δI)⁻¹(y − Cα̂ − Xw); train_fixed (n_samples,) Xw + Cα̂."""

    coefs: np.ndarray
    covariate_coefs: np.ndarray
    blup_residual: np.ndarray
    train_fixed: np.ndarray


def duplicate_columns(X: np.ndarray) -> np.ndarray:
    """(p,) bool: True where a column equals an earlier column exactly.

    Columns are grouped by a hash of their bytes (one column at a time, no copy of X), and
    hash collisions are checked exactly. (Projections are not used as keys: BLAS may round the
    dot products of identical columns differently.)
    """
    first: dict = {}
    dup = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        column = X[:, j]
        for i in first.setdefault(hash(column.tobytes()), []):
            if np.array_equal(column, X[:, i]):
                dup[j] = True
                break
        else:
            first[hash(column.tobytes())].append(j)
    return dup


class _WithoutDuplicates:
    """A design whose masked columns do not exist for the solver: zero correlation, so they
    never violate the KKT conditions, never enter a working set and keep w = 0."""

    def __init__(self, design, masked: np.ndarray):
        self.design, self.masked = design, masked
        self.n_samples, self.n_features = design.n_samples, design.n_features

    def columns(self, idx):
        return self.design.columns(idx)

    def correlations(self, v):
        corr = self.design.correlations(v)
        corr[self.masked] = 0.0
        return corr


def _design(X, eig: KinshipEigen | None, log_delta: float, covariates):
    n = X.n_samples
    if eig is None:  # the identity rotation: a plain Lasso with unpenalized covariates
        return RotatedDesign(X, np.eye(n), np.zeros(n), 1.0, covariates)
    return RotatedDesign(X, eig.eigvecs, eig.eigvals, float(np.exp(log_delta)), covariates)


def _as_path(fit, l1_ratio: float, tol: float, n_features: int) -> LassoPath:
    coefs = sparse.csr_matrix(fit.coefs.reshape(1, -1))
    return LassoPath(
        mus=np.array([fit.mu]),
        coefs=coefs,
        objectives=np.array([fit.objective]),
        gaps=np.array([fit.gap]),
        converged=np.array([fit.converged]),
        n_epochs=np.array([fit.n_epochs]),
        n_active=np.array([fit.n_active]),
        explained_variance=np.array([fit.explained_variance]),
        l1_ratio=l1_ratio,
        tol=tol,
    )


def fit_lmm_lasso(
    X: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray | None,
    eig: KinshipEigen | None,
    log_delta: float,
    *,
    mu: float | None = None,
    n_active: int | None = None,
    mus: np.ndarray | None = None,
    grid: MuGrid = MuGrid(),
    lasso: LassoSettings = LassoSettings(),
    progress: Callable[[int], None] | None = None,
    stop: Callable[[int, LmmStep], bool] | None = None,
) -> LmmLassoFit:
    """Fit LMM-Lasso at one μ (``mu``), at the μ selecting ``n_active`` SNPs, or on a path.

    X is the (n, p) standardized SNPs: `compact.CompactGenotypes` or a float64 matrix; y (n,)
    on the model scale; covariates (n, c) or None. A path is ``mus`` if given, else
    ``grid.values(μ_max)``; it ends early by ``lasso.path_stop`` or when ``stop(k, step)`` (an
    `LmmStep` of the k-th μ) returns True, and then holds only the fitted μ
    (`lasso.path.fit_lasso_path`). The duality gap certifies each fit (relative to ‖ỹ‖²,
    ``lasso.tol``).
    """
    l1_ratio, tol, max_epochs = lasso.l1_ratio, lasso.tol, lasso.max_epochs
    X = as_genotypes(X)
    n = X.n_samples
    C = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    rotated = _design(X, eig, log_delta, C)
    y_rot = rotated.rotate_target(y)
    dup = X.duplicate_columns()
    design = _WithoutDuplicates(rotated, dup) if dup.any() else rotated
    top = mu_max(design, y_rot, l1_ratio)
    steps: list[LmmStep] = []

    def record(k: int, coefs: np.ndarray) -> bool:
        steps.append(_lmm_step(X, y, C, rotated, eig, log_delta, coefs))
        return stop is not None and bool(stop(k, steps[-1]))

    if mu is not None:
        path = _as_path(
            fit_lasso(design, y_rot, mu, l1_ratio, tol, max_epochs), l1_ratio, tol, X.shape[1]
        )
    elif n_active is not None:
        fit = fit_n_active(design, y_rot, n_active, l1_ratio, tol=tol, max_epochs=max_epochs)
        path = _as_path(fit, l1_ratio, tol, X.shape[1])
    else:
        values = np.asarray(mus, dtype=np.float64) if mus is not None else grid.values(top)
        path = fit_lasso_path(
            design, y_rot, values, l1_ratio, tol, max_epochs, progress, record, lasso.path_stop
        )
    if not steps:  # one μ
        steps.append(_lmm_step(X, y, C, rotated, eig, log_delta, path.coefs[0].toarray().ravel()))
    return _lmm_fit(path, steps, C.shape[1], eig, log_delta, top, int(dup.sum()))


def assemble_lmm_fit(
    X,
    y: np.ndarray,
    covariates: np.ndarray | None,
    eig: KinshipEigen | None,
    log_delta: float,
    coefs: np.ndarray,
    mu: float,
    converged: bool,
    lasso: LassoSettings = LassoSettings(),
) -> LmmLassoFit:
    """The LMM-Lasso model of SNP effects w = ``coefs`` (n_snps,) found elsewhere (e.g. the
    average of cv folds' models), completed on these individuals as `fit_lmm_lasso` completes
    its solutions: α̂ by GLS given w, the BLUP residual a, and the training explained variance
    1 − ‖ỹ − X̃w‖²/‖ỹ‖². w solves no Lasso problem, so the objective and duality gap are NaN;
    ``mu`` labels the model and ``converged`` records whether the fits it came from were
    certified.
    """
    X = as_genotypes(X)
    n = X.n_samples
    C = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    rotated = _design(X, eig, log_delta, C)
    w = np.asarray(coefs, dtype=np.float64)
    step = _lmm_step(X, y, C, rotated, eig, log_delta, w)
    y_rot = rotated.rotate_target(y)
    support = np.flatnonzero(w)
    resid = y_rot - rotated.rotate(X.columns(support) @ w[support])
    y_norm2 = float(y_rot @ y_rot)
    path = LassoPath(
        mus=np.array([float(mu)]),
        coefs=sparse.csr_matrix(w.reshape(1, -1)),
        objectives=np.array([np.nan]),
        gaps=np.array([np.nan]),
        converged=np.array([bool(converged)]),
        n_epochs=np.array([0]),
        n_active=np.array([support.size]),
        explained_variance=np.array([1.0 - float(resid @ resid) / y_norm2 if y_norm2 else 0.0]),
        l1_ratio=lasso.l1_ratio,
        tol=lasso.tol,
    )
    top = mu_max(rotated, y_rot, lasso.l1_ratio)
    return _lmm_fit(path, [step], C.shape[1], eig, log_delta, top, 0)


def _lmm_step(X, y, C, rotated: RotatedDesign, eig, log_delta: float, coefs) -> LmmStep:
    """α̂ = GLS of y − Xw on C, then Xw + Cα̂ and the BLUP residual, for w = ``coefs``."""
    w = np.array(coefs, dtype=np.float64)
    alpha = rotated.covariate_coefs(y, w)
    support = np.flatnonzero(w)
    fitted = X.columns(support) @ w[support] + C @ alpha
    return LmmStep(w, alpha, blup_residual(y - fitted, eig, log_delta), fitted)


def _lmm_fit(path, steps, n_covariates, eig, log_delta, top, n_duplicates) -> LmmLassoFit:
    return LmmLassoFit(
        path=path,
        covariate_coefs=np.array([s.covariate_coefs for s in steps]).reshape(
            len(path.mus), n_covariates
        ),
        blup_residual=np.array([s.blup_residual for s in steps]),
        log_delta=float(log_delta) if eig is not None else float("nan"),
        train_fixed=np.array([s.train_fixed for s in steps]),
        mu_max=top,
        n_duplicates=n_duplicates,
    )


def blup_residual(resid: np.ndarray, eig: KinshipEigen | None, log_delta: float) -> np.ndarray:
    """a = (K + δI)⁻¹ r = U diag(1/(S+δ)) Uᵀ r; for a low-rank K (U (n, r), its other
    eigenvalues 0) r/δ + U diag(1/(S+δ) − 1/δ) Uᵀ r. Zeros when there is no kinship."""
    if eig is None:
        return np.zeros_like(resid)
    delta = np.exp(log_delta)
    d = 1.0 / (eig.eigvals + delta)
    if eig.low_rank:
        return resid / delta + eig.eigvecs @ ((d - 1.0 / delta) * (eig.eigvecs.T @ resid))
    return eig.eigvecs @ (d * (eig.eigvecs.T @ resid))
