"""Univariate association scans: LMM Wald tests at the null model's δ or at a per-SNP δ, and OLS.

Model for SNP j, with C the (n, c) covariates (intercept included) and x the SNP:

    y = Cα + xβ + u + ε,   u ~ N(0, σg² K),   ε ~ N(0, σe² I),   δ = σe²/σg²,

so y ~ N(Cα + xβ, σg² V), V = K + δI. With K = U diag(S) Uᵀ, write a* = Uᵀa for a vector or
matrix a, D = diag((S + δ)^-1/2), Q an orthonormal basis of D C* and P = I − QQᵀ (projecting
the covariates out, Frisch–Waugh–Lovell). Then with ỹ = P D y* and x̃ = P D x*:

    β̂ = x̃ᵀỹ / x̃ᵀx̃,   RSS = ỹᵀỹ − β̂² x̃ᵀx̃,   σ̂² = RSS / (n − c − 1),
    SE = sqrt(σ̂² / x̃ᵀx̃),   T = β̂ / SE,   P = 2 · t_{n−c−1}.sf(|T|),

which is the GLS estimate under V and its Wald t-test (the F(1, n − c − 1) test of GEMMA is T²).
δ comes from:

- ``fixed`` (EMMAX, FaST-LMM): the null model's δ, for every SNP. A block of SNPs is rotated
  with one matrix product UᵀX and tested for every phenotype that shares U;
- ``exact`` (GEMMA ``-lmm 1``): per SNP, the REML estimate with C and x as fixed effects. With
  W = [C, x], w_i = 1/(S_i + δ) and m = n − c − 1,

      −2 log L_R(δ) = m log(2π RSS/m) + Σ log(S_i + δ) + log|W*ᵀ diag(w) W*| − log|WᵀW| + m,

  minimized over log δ within the search range (the null model's ``log_delta_range``): the
  criterion of every SNP of a block is evaluated on `EXACT_N_GRID` + 1 points of the range with
  matrix products, then Brent's method (a numba kernel in `gwas_kernels`, one pass over the n
  samples per evaluation) refines each SNP's optimum within the two grid intervals around its
  best grid point, to `EXACT_XTOL` in log δ;
- ``ols`` (``--lm``): U = I and D = I (δ → ∞), ordinary least squares with the same covariates.

Low rank (``kinship --rank``: U is (n, r), r < n, K's other eigenvalues 0; FaST-LMM's O(n r)
per SNP): y* and C* are completed by their coordinates on B, an orthonormal basis of the
parts of y and C outside range(U) (m ≤ c + 1 rows, `nullmodel.complement_rows`), and each
SNP x by x*_B = Bᵀx and one more row, ‖x − U x* − B x*_B‖ (0 for y and C). These r + m + 1
rows, with S = 0 on the last m + 1, hold every inner product of x, y and C in the metric
(K + δI)⁻¹, so all of the above holds on them unchanged; the n − r − m − 1 rows left out
are 0 for x, y and C and only add (n − r − m − 1) log δ to Σ log(S_i + δ).

The tests are invariant to rescaling x, so SNPs come standardized (mean 0, sd 1, missing calls at
the mean); the effect per copy of A1 is β̂_std / sd, and so is its SE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import special

from lmmlasso_cli.nullmodel import KinshipEigen
from lmmlasso_cli.settings import NullSearch

METHODS = ("fixed", "exact", "ols")
EXACT_N_GRID = 20  # grid intervals of log δ for the per-SNP REML search
EXACT_XTOL = 1e-6  # absolute tolerance in log δ of the per-SNP Brent search
COLLINEAR_TOL = 1e-10  # x̃ᵀx̃ below this fraction of ‖D x*‖² marks x as collinear with C
EXACT_SUBBLOCK = 1024  # SNPs whose grid is evaluated together (memory: a few n × 1024 arrays)
CHI2_1_MEDIAN = float(special.chdtri(1, 0.5))  # median of χ²(1), 0.454936...


@dataclass(frozen=True)
class ScanModel:
    """One phenotype prepared for SNP tests: rotated data and the whitened, projected phenotype.

    For OLS, ``eigvals`` is None, the rotation is the identity and ``log_delta`` is +inf.
    """

    eigvals: np.ndarray | None  # (rows,) S, rows = n (or r + m + 1 for a low-rank K)
    uy: np.ndarray  # (rows,) y* = Uᵀy
    uc: np.ndarray  # (rows, c) C* = UᵀC
    log_delta: float  # δ of the fixed-δ test (the null model's)
    weights: np.ndarray  # (rows,) diagonal of D = (S + δ)^-1/2 (ones for OLS)
    basis: np.ndarray  # (rows, c) Q, orthonormal basis of D C*
    y_tilde: np.ndarray  # (rows,) ỹ = P D y*
    complement: np.ndarray | None = None  # (n, m) B of a low-rank K (module docstring)
    n_null: int = 0  # rows left out (low rank): n − r − m − 1

    @property
    def n_samples(self) -> int:
        return len(self.uy) + self.n_null

    @property
    def n_covariates(self) -> int:
        return self.uc.shape[1]

    @property
    def df(self) -> int:
        return self.n_samples - self.n_covariates - 1


@dataclass(frozen=True)
class SnpTests:
    """Wald tests of one phenotype on a block of SNPs, standardized scale (arrays (n_snps,))."""

    beta: np.ndarray  # β̂ per sd of the SNP; NaN where x is collinear with the covariates
    se: np.ndarray
    t_stat: np.ndarray
    p_value: np.ndarray
    log_delta: np.ndarray  # δ used per SNP (the null's unless exact; +inf for OLS)


@dataclass(frozen=True)
class Association:
    """A finished scan of one phenotype (arrays (n_snps,), in the order the SNPs came)."""

    method: str  # "fixed", "exact" or "ols"
    snp_index: np.ndarray  # positions in the .bim
    beta: np.ndarray  # per copy of A1
    se: np.ndarray  # per copy of A1
    beta_std: np.ndarray  # per sd of the SNP
    t_stat: np.ndarray
    p_value: np.ndarray
    log_delta: np.ndarray
    n_samples: int
    df: int

    @property
    def n_snps(self) -> int:
        return len(self.snp_index)


def prepare_scan(
    y: np.ndarray,
    covariates: np.ndarray,
    eig: KinshipEigen | None = None,
    log_delta: float | None = None,
) -> ScanModel:
    """Rotate y and C by Uᵀ and whiten them at δ = exp(log_delta); OLS when ``eig`` is None."""
    y = np.asarray(y, dtype=np.float64)
    C = np.asarray(covariates, dtype=np.float64).reshape(len(y), -1)
    n, c = C.shape
    if n <= c + 1:
        raise ValueError(f"{n} samples cannot test a SNP with {c} covariates")
    if eig is None:
        eigvals, uy, uc, log_delta, weights = None, y.copy(), C.copy(), np.inf, np.ones(n)
    else:
        if log_delta is None or not np.isfinite(log_delta):
            raise ValueError("an LMM scan needs the finite log δ of the null model")
        if eig.n_samples != n:
            raise ValueError("y and the eigendecomposition must have the same samples")
        if eig.low_rank:
            return _prepare_low_rank(y, C, eig, float(log_delta))
        eigvals, uy, uc = eig.eigvals, eig.eigvecs.T @ y, eig.eigvecs.T @ C
        weights = 1.0 / np.sqrt(eigvals + np.exp(log_delta))
    return _whitened(eigvals, uy, uc, float(log_delta), weights)


def _whitened(eigvals, uy, uc, log_delta, weights, complement=None, n_null=0) -> ScanModel:
    n, c = uc.shape
    if c:
        basis, _ = np.linalg.qr(uc * weights[:, None])
    else:
        basis = np.zeros((n, 0))
    wy = uy * weights
    y_tilde = wy - basis @ (basis.T @ wy)
    return ScanModel(eigvals, uy, uc, log_delta, weights, basis, y_tilde, complement, n_null)


def _prepare_low_rank(y, C, eig: KinshipEigen, log_delta: float) -> ScanModel:
    """`prepare_scan` for a low-rank K: the rows of y and C completed (module docstring)."""
    from lmmlasso_cli.nullmodel import complement_rows

    n, c = C.shape
    r, basis = complement_rows(eig, np.column_stack([y, C]))
    rest = int(eig.rank + r.shape[0] < n)  # a SNP's own row, unless U and B span everything
    n_null = n - eig.rank - r.shape[0] - rest
    zero = np.zeros((rest, 1 + c))
    rows = np.vstack([eig.eigvecs.T @ np.column_stack([y, C]), r, zero])
    eigvals = np.concatenate([eig.eigvals, np.zeros(r.shape[0] + rest)])
    weights = 1.0 / np.sqrt(eigvals + np.exp(log_delta))
    return _whitened(eigvals, rows[:, 0], rows[:, 1:], log_delta, weights, basis, n_null)


def complete_rotation(model: ScanModel, Z: np.ndarray, rotated: np.ndarray, outside=None):
    """The rows of a block Z (n, b) for ``model``: Z* = UᵀZ itself (full rank), or for a
    low-rank K Z* completed by BᵀZ and ‖z − U z* − B z*_B‖ per SNP (module docstring).
    ``outside`` is ‖z‖² − ‖z*‖² per SNP, shared by the models of one block (computed here if
    None)."""
    if model.complement is None:
        return rotated
    Z = np.asarray(Z, dtype=np.float64)
    on_b = model.complement.T @ Z
    if len(model.uy) == rotated.shape[0] + on_b.shape[0]:  # no room left for a SNP's own row
        return np.vstack([rotated, on_b])
    if outside is None:
        outside = _outside(Z, rotated)
    rest = np.sqrt(np.maximum(outside - np.einsum("ij,ij->j", on_b, on_b), 0.0))
    return np.vstack([rotated, on_b, rest[None, :]])


def _outside(Z: np.ndarray, rotated: np.ndarray) -> np.ndarray:
    """‖z‖² − ‖Uᵀz‖² per column: each SNP's squared norm outside range(U)."""
    return np.einsum("ij,ij->j", Z, Z) - np.einsum("ij,ij->j", rotated, rotated)


def rotate(eig: KinshipEigen | None, Z: np.ndarray, eigvecs: np.ndarray | None = None):
    """Z* = UᵀZ for a block of SNPs (one matrix product, Fortran order); Z itself for OLS.
    ``eigvecs`` is U in Z's dtype (default ``eig.eigvecs``): a float32 Z and U give a float32
    product (faster than float64: bench/README.md), which the tests then use in float64."""
    if eig is None:
        return Z
    U = eig.eigvecs if eigvecs is None else eigvecs
    return (Z.T @ U).T


def _wald(xx, xy, yy, df, scale):
    """Wald statistics from x̃ᵀx̃, x̃ᵀỹ, ỹᵀỹ; NaN where x̃ᵀx̃ ≤ COLLINEAR_TOL · scale."""
    ok = xx > COLLINEAR_TOL * scale
    xx = np.where(ok, xx, 1.0)
    beta = xy / xx
    rss = np.maximum(yy - beta * xy, 0.0)
    se = np.sqrt(rss / df / xx)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    p = 2.0 * special.stdtr(df, -np.abs(t))
    nan = np.where(ok, 1.0, np.nan)
    return beta * nan, se * nan, t * nan, p * nan


def wald_fixed(model: ScanModel, rotated: np.ndarray) -> SnpTests:
    """Wald tests at the model's fixed δ for a rotated block Z* (n, b) (module docstring)."""
    x = rotated * model.weights[:, None]
    scale = np.einsum("ij,ij->j", x, x)
    if model.n_covariates:
        x = x - model.basis @ (model.basis.T @ x)
    xx = np.einsum("ij,ij->j", x, x)
    xy = model.y_tilde @ x
    yy = float(model.y_tilde @ model.y_tilde)
    beta, se, t, p = _wald(xx, xy, yy, model.df, scale)
    return SnpTests(beta, se, t, p, np.full(len(beta), model.log_delta))


class _RemlProfile:
    """REML criterion of each SNP of a rotated block on a common log δ grid (matrix products).

    The criterion is −2 log L_R(δ) without the constants −log|WᵀW| + m (1 + log 2π).
    """

    def __init__(self, model: ScanModel, X: np.ndarray):
        self.model = model
        self.X = X

    def on_grid(self, grid: np.ndarray) -> np.ndarray:
        """Criterion (len(grid), n_snps): every weighted sum is one product with (n, G) weights."""
        model, X = self.model, self.X
        S, uy, uc = model.eigvals, model.uy, model.uc
        n, c = uc.shape
        m = model.df
        h = S[:, None] + np.exp(grid)[None, :]  # (n, G)
        w = 1.0 / h
        xx = ((X * X).T @ w).T  # (G, b)
        xy = ((X * uy[:, None]).T @ w).T
        yy = (uy**2 @ w)[:, None]  # (G, 1)
        logdets = (np.log(h).sum(axis=0) + model.n_null * grid)[:, None]  # (G, 1)
        if c:
            e = np.stack([((X * uc[:, [k]]).T @ w).T for k in range(c)], axis=2)  # (G, b, c)
            yc = (uc * uy[:, None]).T @ w  # (c, G)
            cc = (uc[:, :, None] * uc[:, None, :]).reshape(n, c * c).T @ w  # (c*c, G)
            a = cc.T.reshape(-1, c, c)  # (G, c, c)
            chol = np.linalg.cholesky(a)
            ze = np.linalg.solve(chol[:, None], e[..., None])[..., 0]  # L⁻¹e, (G, b, c)
            zy = np.linalg.solve(chol, yc.T[..., None])[..., 0]  # L⁻¹yc, (G, c)
            xx = xx - np.einsum("gbk,gbk->gb", ze, ze)
            xy = xy - np.einsum("gbk,gk->gb", ze, zy)
            yy = yy - np.einsum("gk,gk->g", zy, zy)[:, None]
            logdets = (
                logdets + 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)[:, None]
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            rss = yy - xy**2 / xx
            value = m * np.log(rss / m) + logdets + np.log(xx)
        return np.where(np.isfinite(value), value, np.inf)


def prepare_exact_kernels():
    """Compile or load the kernels of `wald_exact` in a thread (`_numba.prepare_in_background`),
    on tiny arguments of the types it passes them; returns the thread."""
    from lmmlasso_cli._numba import prepare_in_background
    from lmmlasso_cli.gwas_kernels import _exact_search, _exact_sums

    n, b = 4, 2  # X must be Fortran-only (a single column would also be C-contiguous)
    S, uy, lo, hi = np.ones(n), np.ones(n), np.zeros(b), np.ones(b)
    ucT, X = np.ones((1, n)), np.asfortranarray(np.eye(n)[:, :b])
    log_delta, fmin, sums = np.zeros(b), np.zeros(b), np.zeros((b, 4))
    df = n - 2  # an int, as `ScanModel.df`
    return prepare_in_background(
        [
            (_exact_search, (S, uy, ucT, X, lo, hi, EXACT_XTOL, df, 0, log_delta, fmin)),
            (_exact_sums, (S, uy, ucT, X, log_delta, sums)),
        ]
    )


def wald_exact(
    model: ScanModel,
    rotated: np.ndarray,
    log_delta_range: tuple[float, float] = NullSearch.log_delta_range,
    n_grid: int = EXACT_N_GRID,
    xtol: float = EXACT_XTOL,
) -> SnpTests:
    """Wald tests at each SNP's own REML δ (GEMMA ``-lmm 1``), see the module docstring.

    The criterion is evaluated for all SNPs on ``n_grid`` + 1 points of ``log_delta_range``;
    each SNP's optimum is then refined by Brent's method (numba kernel) in the two grid
    intervals around its best grid point, to ``xtol`` in log δ. A SNP whose optimum lies on the
    boundary of the range keeps the boundary value.
    """
    if model.eigvals is None:
        raise ValueError("the exact test needs a kinship eigendecomposition")
    grid = np.linspace(log_delta_range[0], log_delta_range[1], n_grid + 1)
    from lmmlasso_cli.gwas_kernels import _exact_search, _exact_sums

    S, uy, ucT = model.eigvals, model.uy, np.ascontiguousarray(model.uc.T)
    out = []
    for start in range(0, rotated.shape[1], EXACT_SUBBLOCK):
        X = np.asfortranarray(rotated[:, start : start + EXACT_SUBBLOCK])
        b = X.shape[1]
        values = _RemlProfile(model, X).on_grid(grid)
        best = np.argmin(values, axis=0)
        lo = grid[np.maximum(best - 1, 0)]
        hi = grid[np.minimum(best + 1, n_grid)]
        log_delta, fmin = np.empty(b), np.empty(b)
        _exact_search(S, uy, ucT, X, lo, hi, xtol, model.df, model.n_null, log_delta, fmin)
        keep_grid = values[best, np.arange(b)] < fmin
        log_delta = np.where(keep_grid, grid[best], log_delta)
        sums = np.empty((b, 4))
        _exact_sums(S, uy, ucT, X, log_delta, sums)
        scale, xx, xy, yy = sums.T
        beta, se, t, p = _wald(xx, xy, yy, model.df, scale)
        out.append(SnpTests(beta, se, t, p, log_delta))
    fields = SnpTests.__annotations__
    return SnpTests(*(np.concatenate([getattr(o, f) for o in out]) for f in fields))


def scan(
    blocks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    eig: KinshipEigen | None,
    models: list[ScanModel],
    method: str = "fixed",
    log_delta_range: tuple[float, float] = NullSearch.log_delta_range,
    progress: Callable[[int], None] | None = None,
) -> list[Association]:
    """Test every SNP of ``blocks`` for every model (phenotype) sharing ``eig``.

    ``blocks`` yields ``(snp_index, Z, sds)``: .bim positions, the standardized block (n, b) and
    the SNPs' sds. Each block is rotated once, in Z's precision: a float32 Z is rotated by a
    float32 copy of U (made once) and the statistics are computed in float64 from the product.
    Returns one `Association` per model.
    """
    eigvecs32 = None
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if (method == "ols") != (eig is None):
        raise ValueError("method 'ols' goes with eig=None and only it")
    parts: list[list] = [[] for _ in models]
    index_parts, sd_parts = [], []
    for snp_index, Z, sds in blocks:
        if Z.shape[1]:
            eigvecs = None
            if Z.dtype == np.float32 and eig is not None:
                if eigvecs32 is None:
                    eigvecs32 = eig.eigvecs.astype(np.float32, order="F")
                eigvecs = eigvecs32
            rotated = np.asarray(rotate(eig, Z, eigvecs), dtype=np.float64)
            outside = None
            if eig is not None and eig.low_rank:  # once per block, for every phenotype
                Z = np.asarray(Z, dtype=np.float64)
                outside = _outside(Z, rotated)
            for k, model in enumerate(models):
                rows = complete_rotation(model, Z, rotated, outside)
                if method == "exact":
                    parts[k].append(wald_exact(model, rows, log_delta_range))
                else:
                    parts[k].append(wald_fixed(model, rows))
            index_parts.append(np.asarray(snp_index))
            sd_parts.append(np.asarray(sds, dtype=np.float64))
        if progress is not None:
            progress(len(snp_index))
    snp_index = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int64)
    sds = np.concatenate(sd_parts) if sd_parts else np.zeros(0)
    results = []
    for model, tests in zip(models, parts, strict=True):
        cat = {
            f: np.concatenate([getattr(t, f) for t in tests]) if tests else np.zeros(0)
            for f in SnpTests.__annotations__
        }
        results.append(
            Association(
                method=method,
                snp_index=snp_index,
                beta=cat["beta"] / sds,
                se=cat["se"] / sds,
                beta_std=cat["beta"],
                t_stat=cat["t_stat"],
                p_value=cat["p_value"],
                log_delta=cat["log_delta"],
                n_samples=model.n_samples,
                df=model.df,
            )
        )
    return results


def merge(parts: list[Association]) -> Association:
    """Concatenate scans of one phenotype (e.g. one per chromosome) in .bim order."""
    if len(parts) == 1:
        return parts[0]
    order = np.argsort(np.concatenate([p.snp_index for p in parts]), kind="stable")
    fields = ("snp_index", "beta", "se", "beta_std", "t_stat", "p_value", "log_delta")
    cat = {f: np.concatenate([getattr(p, f) for p in parts])[order] for f in fields}
    return Association(method=parts[0].method, n_samples=parts[0].n_samples, df=parts[0].df, **cat)


def concatenate(parts: list[Association]) -> Association:
    """Scans of consecutive SNP ranges of one phenotype, in the order given."""
    if len(parts) == 1:
        return parts[0]
    fields = ("snp_index", "beta", "se", "beta_std", "t_stat", "p_value", "log_delta")
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
    return Association(method=parts[0].method, n_samples=parts[0].n_samples, df=parts[0].df, **cat)


def genomic_control(t_stat: np.ndarray) -> float:
    """λ_GC = median(T²) / median of χ²(1) (0.454936), over the finite statistics."""
    t = np.asarray(t_stat)
    t = t[np.isfinite(t)]
    return float(np.median(t**2) / CHI2_1_MEDIAN) if len(t) else float("nan")


@dataclass(frozen=True)
class LocoChromosome:
    """The leave-one-chromosome-out kinship of one chromosome and the null models fitted on it."""

    chrom: str
    n_snps_kinship: int  # SNPs of the other chromosomes
    nulls: tuple  # one NullModel per phenotype


@dataclass(frozen=True)
class LocoScan:
    """A LOCO scan: one merged `Association` per phenotype, and what each chromosome used."""

    associations: list[Association]
    chromosomes: list[LocoChromosome]


def scan_loco_chromosome(
    chrom_parts: dict,
    chrom: str,
    phenotypes: list[tuple[np.ndarray, np.ndarray]],
    blocks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    method: str = "fixed",
    search: NullSearch = NullSearch(),
) -> tuple[list[Association], LocoChromosome]:
    """Leave one chromosome out, for chromosome ``chrom``: K_-c from ``chrom_parts`` (chrom ->
    (Z_d Z_dᵀ, n_snps_d), `kinship.leave_one_chromosome_out`), its eigendecomposition, the null
    model of every phenotype under ``search``, then `scan` of ``blocks`` (chromosome c's
    standardized SNP blocks, as `scan` takes them) at each phenotype's δ (or per SNP for
    ``method="exact"``). ``phenotypes`` holds (y, covariates) per phenotype on the kinship's
    individuals. A unit of work on its own; `merge_loco` joins the chromosomes."""
    from lmmlasso_cli.kinship import leave_one_chromosome_out
    from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model

    eig = eigendecompose(leave_one_chromosome_out(chrom_parts, chrom))
    nulls = tuple(fit_null_model(y, eig, C, search) for y, C in phenotypes)
    models = [
        prepare_scan(y, C, eig, null.log_delta)
        for (y, C), null in zip(phenotypes, nulls, strict=True)
    ]
    results = scan(blocks, eig, models, method, search.log_delta_range)
    n_other = sum(n for c, (_, n) in chrom_parts.items() if c != chrom)
    return results, LocoChromosome(chrom, n_other, nulls)


def merge_loco(chromosomes: list[tuple[list[Association], LocoChromosome]]) -> LocoScan:
    """The `LocoScan` of per-chromosome results (`scan_loco_chromosome`), in .bim order."""
    n_pheno = len(chromosomes[0][0])
    associations = [merge([res[k] for res, _ in chromosomes]) for k in range(n_pheno)]
    return LocoScan(associations, [done for _, done in chromosomes])
