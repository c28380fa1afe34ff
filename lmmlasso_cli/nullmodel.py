"""The null linear mixed model, fitted by a grid-and-Brent search over log δ.

Model: y = Cα + u + ε, u ~ N(0, σg² K), ε ~ N(0, σe² I), so y ~ N(Cα, σg² (K + δI)) with
δ = σe²/σg². With K = U diag(S) Uᵀ, y* = Uᵀy, C* = UᵀC and d = 1/(S + δ), for fixed δ

    α̂(δ) = (C*ᵀ D C*)⁻¹ C*ᵀ D y*,     RSS(δ) = Σ_i d_i (y*_i − C*_i α̂)²,

and σg² is profiled out:

    ML:   σ̂g² = RSS/n,
          log L(δ) = −½ [n log(2π σ̂g²) + Σ log(S_i + δ) + n]
    REML: σ̂g² = RSS/(n − c),
          log L_R(δ) = −½ [(n − c) log(2π σ̂g²) + Σ log(S_i + δ)
                           + log|C*ᵀ D C*| − log|CᵀC| + (n − c)]

The REML form is the exact log density of the n − c error contrasts Aᵀy, A an orthonormal basis
of the null space of Cᵀ (Harville 1974); it includes −log|CᵀC| so that it does not depend on how
C is parameterized. The negative log-likelihood is evaluated on a grid of log δ (default 101
points over [−5, 5]); every interior local minimum is refined with Brent's method and the best
is kept. h² = σg²/(σg² + σe²) = 1/(1 + δ); its standard error is the delta method applied to the
observed information of the profiled likelihood in log δ.

Low rank (``kinship --rank``; U is (n, r), r < n, and K's other n − r eigenvalues are 0): the
parts of y and C outside range(U) are written in an orthonormal basis of their span
(`complement_rows`: m ≤ c + 1 rows with S_i = 0); their other n − r − m coordinates are 0 and
only add (n − r − m) log δ to Σ log(S_i + δ). The sums above then run over r + m rows, O(n r)
per phenotype, and give exactly the likelihood of the full-rank formulas for that K
(FaST-LMM's low-rank likelihood, Lippert et al. 2011).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.settings import NullSearch

BRENT_XTOL = 1e-10
HESSIAN_STEP = 1e-3  # finite-difference step in log δ for the observed information
EIGVAL_NULL = 1e-10  # relative size below which an eigenvalue of K counts as zero
COMPLEMENT_RTOL = 1e-10  # complement directions below this share of ‖M‖ are rounding
EIGVAL_CLIP = 0.0  # eigenvalues of K below this (rounding noise of a PSD matrix) are set to it


@dataclass(frozen=True)
class KinshipEigen:
    """K = eigvecs @ diag(eigvals) @ eigvecs.T, eigenvalues ascending and clipped at 0.

    Full rank: eigvecs is (n, n) orthogonal. Low rank (`LowRankKinship`, ``kinship --rank``):
    eigvecs is (n, r), r < n, with orthonormal columns, and K's other n − r eigenvalues are 0;
    every consumer then works with the r columns and the complement I − UUᵀ (FaST-LMM's
    low-rank path: O(nr) per vector instead of O(n²)).
    """

    eigvals: np.ndarray  # (r,)
    eigvecs: np.ndarray  # (n_samples, r)
    n_clipped: int  # eigenvalues that were slightly negative and set to 0

    @property
    def n_samples(self) -> int:
        return self.eigvecs.shape[0]

    @property
    def rank(self) -> int:
        return len(self.eigvals)

    @property
    def low_rank(self) -> bool:
        return self.rank < self.n_samples


@dataclass(frozen=True)
class LowRankKinship:
    """K = F Fᵀ from an (n, r) factor F, r < n (``kinship --rank``: F = U_r diag(S_r)^½ of
    K's r leading eigenpairs). Restricting K to some individuals restricts F's rows; the
    eigensystem of the restriction is the thin SVD of its rows, O(n r²) (`eigen`)."""

    factor: np.ndarray  # (n, r)

    @property
    def shape(self) -> tuple[int, int]:
        n = self.factor.shape[0]
        return (n, n)

    def rows(self, idx: np.ndarray) -> LowRankKinship:
        return LowRankKinship(self.factor[np.asarray(idx)])

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """K[rows][:, cols] = F_rows F_colsᵀ, (len(rows), len(cols))."""
        return self.factor[np.asarray(rows)] @ self.factor[np.asarray(cols)].T

    def eigen(self) -> KinshipEigen:
        """K = U diag(s²) Uᵀ from the thin SVD F = U diag(s) Vᵀ (LAPACK gesdd), ascending."""
        left, sing, _ = linalg.svd(self.factor, full_matrices=False, check_finite=False)
        return KinshipEigen(
            eigvals=np.ascontiguousarray(sing[::-1] ** 2),
            eigvecs=np.ascontiguousarray(left[:, ::-1]),
            n_clipped=0,
        )


def leading_eigen(kinship: np.ndarray, rank: int) -> KinshipEigen:
    """The ``rank`` largest eigenpairs of a kinship (LAPACK syevr on that index range; the
    tridiagonal reduction is still O(n³), the eigenvectors O(n² rank)), as a low-rank
    `KinshipEigen`: K ≈ U_r diag(S_r) U_rᵀ, exact when rank(K) ≤ r (a kinship of at most r
    SNPs). Negative eigenvalues among them are clipped at 0."""
    n = kinship.shape[0]
    if not 1 <= rank < n:
        raise InputError(f"`rank` must be between 1 and n − 1 = {n - 1}, got {rank}")
    eigvals, eigvecs = linalg.eigh(
        kinship, subset_by_index=(n - rank, n - 1), driver="evr", check_finite=False
    )
    neg = eigvals < EIGVAL_CLIP
    eigvals = np.where(neg, EIGVAL_CLIP, eigvals)
    return KinshipEigen(eigvals=eigvals, eigvecs=eigvecs, n_clipped=int(neg.sum()))


def decompose(kinship, overwrite: bool = False) -> KinshipEigen:
    """The eigensystem of a kinship: `eigendecompose` for an (n, n) matrix, the thin SVD of the
    factor for a `LowRankKinship`."""
    if isinstance(kinship, LowRankKinship):
        return kinship.eigen()
    return eigendecompose(kinship, overwrite=overwrite)


def kinship_block(kinship, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """K[rows][:, cols] as a new float64 array, of an (n, n) matrix or a `LowRankKinship`."""
    if isinstance(kinship, LowRankKinship):
        return kinship.block(rows, cols)
    return np.asarray(kinship[np.ix_(rows, cols)], dtype=np.float64)


def restricted_eigen(kinship, rows: np.ndarray) -> KinshipEigen:
    """The eigensystem of K restricted to ``rows``: a copy of K[rows][:, rows] eigendecomposed
    in place (O(m³)), or the thin SVD of a `LowRankKinship`'s factor rows (O(m r²))."""
    if isinstance(kinship, LowRankKinship):
        return kinship.rows(rows).eigen()
    return eigendecompose(kinship_block(kinship, rows, rows), overwrite=True)


def complement_rows(eig: KinshipEigen, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a low-rank eig and M (n, m): (R, B) with (I − UUᵀ)M = B R, B (n, m') orthonormal
    and orthogonal to U, R (m', m), m' ≤ m its numerical rank (thin SVD; directions of M
    inside range(U) have no complement and add no row). The rows [UᵀM; R] then give every
    inner product of M's columns in any metric a (I − UUᵀ) + U diag(b) Uᵀ exactly, with
    weight a on R's rows: M's coordinates on K's eigenvectors, completed by B."""
    resid = M - eig.eigvecs @ (eig.eigvecs.T @ M)
    left, sing, _ = np.linalg.svd(resid, full_matrices=False)
    scale = max(float(np.linalg.norm(M)), 1e-300)
    keep = sing > COMPLEMENT_RTOL * scale
    basis = np.ascontiguousarray(left[:, keep])
    return basis.T @ resid, basis


# Eigenvalues below −PSD_RTOL·max(1, λ_max) mean the matrix is not a kinship; above, they are
# rounding and are clipped: a float32 kinship (`--precision float32`) of a sample-centred Z has
# its null eigenvalue at about −2e-6 for n = 5000 (the float64 one at −1e-15).
PSD_RTOL = 1e-4


def eigendecompose(kinship: np.ndarray, overwrite: bool = False) -> KinshipEigen:
    """Symmetric eigendecomposition (LAPACK syevd) of a kinship matrix. With ``overwrite`` (the
    caller's own copy) LAPACK works in ``kinship``'s memory, which then holds the eigenvectors:
    one n × n array less at the peak. A C-ordered matrix is handed over as its transpose, a
    Fortran view with the same values (a kinship is exactly symmetric), so nothing is copied;
    the eigenvalues and vectors are the same bits either way."""
    if overwrite and kinship.dtype == np.float64 and kinship.flags.c_contiguous:
        kinship = kinship.T  # Fortran order, the layout LAPACK overwrites without a copy
    eigvals, eigvecs = linalg.eigh(kinship, driver="evd", check_finite=False, overwrite_a=overwrite)
    neg = eigvals < EIGVAL_CLIP
    if np.any(eigvals < -PSD_RTOL * max(1.0, eigvals[-1])):
        raise InputError(
            f"the kinship matrix is not positive semi-definite (smallest eigenvalue "
            f"{eigvals[0]:.3g}); rebuild the kinship from standardized genotypes"
        )
    eigvals = np.where(neg, EIGVAL_CLIP, eigvals)
    return KinshipEigen(eigvals=eigvals, eigvecs=eigvecs, n_clipped=int(neg.sum()))


@dataclass(frozen=True)
class NullModel:
    """Fitted null LMM for one phenotype (see the module docstring for the likelihoods)."""

    method: str  # "ML" or "REML"
    log_delta: float  # log(σe²/σg²)
    delta: float
    sigma2_g: float
    sigma2_e: float
    h2: float  # σg² / (σg² + σe²)
    h2_se: float  # NaN when the optimum is on the grid boundary
    loglik: float  # at the optimum (ML or restricted)
    coefs: np.ndarray  # (n_covariates,) α̂ (GLS)
    coefs_se: np.ndarray  # (n_covariates,) standard errors of α̂
    n_samples: int
    n_covariates: int
    at_boundary: bool
    grid_log_delta: np.ndarray  # (n_grid + 1,)
    grid_nll: np.ndarray  # (n_grid + 1,) negative log-likelihood on the grid


class _Profile:
    """Profiled likelihood of one phenotype in log δ, with rotated data cached."""

    def __init__(self, y: np.ndarray, eig: KinshipEigen, covariates: np.ndarray, reml: bool):
        self.S = eig.eigvals
        self.uy = eig.eigvecs.T @ y
        self.uc = eig.eigvecs.T @ covariates
        self.n_null = 0  # eigenvalues 0 of K with no row here (low rank: y, C are 0 there)
        if eig.low_rank:  # complete the rows with the complement of [y, C] (`complement_rows`)
            r, _ = complement_rows(eig, np.column_stack([y, covariates]))
            self.S = np.concatenate([self.S, np.zeros(r.shape[0])])
            self.uy = np.concatenate([self.uy, r[:, 0]])
            self.uc = np.vstack([self.uc, r[:, 1:]])
            self.n_null = eig.n_samples - len(self.S)
        self.n, self.c = covariates.shape
        self.reml = reml
        if self.c:
            sign, logdet = np.linalg.slogdet(covariates.T @ covariates)
            if sign <= 0 or np.linalg.matrix_rank(covariates) < self.c:
                raise InputError(
                    "the covariates are linearly dependent (singular CᵀC), e.g. a constant "
                    "covariate besides the intercept or two identical columns; drop one with "
                    "`covar_names`"
                )
            self.logdet_ctc = logdet
        else:
            self.logdet_ctc = 0.0

    def solve(self, log_delta: float):
        """Return (alpha, RSS, log|C*ᵀDC*|, C*ᵀDC*) at this log δ."""
        d = 1.0 / (self.S + np.exp(log_delta))
        if self.c == 0:
            return np.zeros(0), float(np.sum(d * self.uy**2)), 0.0, np.zeros((0, 0))
        cd = self.uc * d[:, None]
        a = cd.T @ self.uc
        alpha = np.linalg.solve(a, cd.T @ self.uy)
        resid = self.uy - self.uc @ alpha
        return alpha, float(np.sum(d * resid**2)), float(np.linalg.slogdet(a)[1]), a

    def nll(self, log_delta: float) -> float:
        _, rss, logdet_a, _ = self.solve(log_delta)
        logdet_h = float(np.sum(np.log(self.S + np.exp(log_delta)))) + self.n_null * log_delta
        if self.reml:
            m = self.n - self.c
            return 0.5 * (
                m * np.log(2 * np.pi * rss / m) + logdet_h + logdet_a - self.logdet_ctc + m
            )
        return 0.5 * (self.n * np.log(2 * np.pi * rss / self.n) + logdet_h + self.n)

    def sigma2_g(self, rss: float) -> float:
        return rss / (self.n - self.c) if self.reml else rss / self.n


def _local_minima(nll: np.ndarray) -> list[int]:
    return [i for i in range(1, len(nll) - 1) if nll[i] <= nll[i - 1] and nll[i] < nll[i + 1]]


def fit_null_model(
    y: np.ndarray,
    eig: KinshipEigen,
    covariates: np.ndarray | None = None,
    search: NullSearch = NullSearch(),
) -> NullModel:
    """Fit the null LMM by ML (default, as in LMM-Lasso) or REML (``search.reml``).

    ``covariates`` is the full (n, c) fixed-effect design, intercept included if wanted
    (c may be 0). ``y`` must be complete and aligned with ``eig``. Warns with a
    `ConvergenceWarning` when the optimum lies on the boundary of the log δ grid.
    """
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    C = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    if n != eig.n_samples or C.shape[0] != n:
        raise ValueError("y, covariates and the eigendecomposition must have the same samples")
    if n <= C.shape[1] + 1:
        raise InputError(f"{n} individuals cannot fit {C.shape[1]} covariates and a variance")
    from scipy import optimize  # a fifth of a second to import: only where a null is fitted

    reml = search.reml
    prof = _Profile(y, eig, C, reml)
    lo, hi = search.log_delta_range
    grid = np.linspace(lo, hi, search.n_grid + 1)
    grid_nll = np.array([prof.nll(g) for g in grid])
    best_x, best_f = float(grid[np.argmin(grid_nll)]), float(np.min(grid_nll))
    for i in _local_minima(grid_nll):
        res = optimize.minimize_scalar(
            prof.nll,
            bracket=(grid[i - 1], grid[i], grid[i + 1]),
            method="brent",
            options={"xtol": BRENT_XTOL},
        )
        if res.fun < best_f and lo <= res.x <= hi:
            best_x, best_f = float(res.x), float(res.fun)
    at_boundary = best_x in (grid[0], grid[-1])
    if at_boundary:
        side = "h² ≈ 1 (δ tiny)" if best_x == grid[0] else "h² ≈ 0 (δ huge)"
        why = ""
        singular = eig.low_rank or np.any(eig.eigvals <= EIGVAL_NULL * eig.eigvals[-1])
        if best_x == grid[0] and not reml and singular:
            why = (
                " (K is singular, e.g. sample-centred, and the ML likelihood grows without "
                "bound as δ → 0 along its null space when the covariates fit that direction; "
                "`reml` is not affected)"
            )
        warnings.warn(
            f"the null-model optimum lies on the boundary log δ = {best_x:g} of the grid "
            f"[{lo:g}, {hi:g}]: {side}{why}; widen it with `log_delta_range`"
            + ("" if reml else " or use `reml`"),
            ConvergenceWarning,
            stacklevel=2,
        )
    alpha, rss, _, a = prof.solve(best_x)
    delta = float(np.exp(best_x))
    sigma2_g = prof.sigma2_g(rss)
    h2 = 1.0 / (1.0 + delta)
    h2_se = np.nan
    if not at_boundary:
        h = HESSIAN_STEP
        curv = (prof.nll(best_x + h) - 2 * best_f + prof.nll(best_x - h)) / h**2
        if curv > 0:
            h2_se = float(h2 * (1 - h2) / np.sqrt(curv))
    coefs_se = np.sqrt(np.diag(np.linalg.inv(a)) * sigma2_g) if C.shape[1] else np.zeros(0)
    return NullModel(
        method="REML" if reml else "ML",
        log_delta=best_x,
        delta=delta,
        sigma2_g=sigma2_g,
        sigma2_e=delta * sigma2_g,
        h2=h2,
        h2_se=h2_se,
        loglik=-best_f,
        coefs=alpha,
        coefs_se=coefs_se,
        n_samples=n,
        n_covariates=C.shape[1],
        at_boundary=bool(at_boundary),
        grid_log_delta=grid,
        grid_nll=grid_nll,
    )
