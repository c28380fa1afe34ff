"""K-fold cross-validation of LMM-Lasso over individuals, scored by the BLUP prediction.

For fold f with held-out individuals v and training individuals t (all the others), every μ of
one grid shared by all folds, and the model refitted on t only (`folds.fit_training`: the
transform, the null model on K_tt, the Lasso path):

    ŷ_v(μ) = X_v w + C_v α̂ + K_vt a,   a = (K_tt + δI)⁻¹ (y_t − C_t α̂ − X_t w),

with w, α̂, δ and the transform fitted on t. The held-out phenotype y_v is put on the fold's
model scale by the transform fitted on t. Per fold and μ:

    explained variance   1 − Var(y_v − ŷ_v) / Var(y_v)
    MSE                  mean((y_v − ŷ_v)²)
    SNP part             Var(X_v w) / Var(y_v)
    background part      Var(K_vt a) / Var(y_v)       (Rakitsch et al. 2013, Fig. 4)

(variances over the held-out individuals, ddof 0).

Early stop (bigstatsr's CMSA, Privé et al. 2019): a fold scores its held-out individuals as its
path goes, and its path ends once the held-out error Var(y_v − ŷ_v) (the complement of the
explained variance above; bigstatsr uses the MSE) has risen from one μ to the next ``n_abort``
times since its last minimum (`RiseCounter`), or by the glmnet rules of its `PathStop`. The μ
after a fold's stop are not fitted by that fold: `cv_summary` gives, for every μ reached by at
least one fold, the mean over the folds that reached it and the standard error sd/√m (sd with
ddof 1, m those folds), and says how many folds that is. `choose_mu` picks only among the μ
every fold reached: the μ of largest mean explained variance ("best") or the largest μ whose
mean is within one standard error of it ("1se"). `average_folds` gives the CMSA model instead:
the mean of the folds' coefficients, each at its own best μ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmmlasso_cli.compact import as_genotypes
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.lmmlasso import LmmStep, fit_lmm_lasso
from lmmlasso_cli.nullmodel import KinshipEigen, kinship_block
from lmmlasso_cli.predict import accuracy
from lmmlasso_cli.selection.folds import (
    TrainingData,
    fit_training,
    take_rows,
    training_phenotype,
)
from lmmlasso_cli.settings import CvSettings, LassoSettings, MuGrid, PathStop, TrainingSettings
from lmmlasso_cli.transforms import fit_transform

RULES = ("best", "1se")


@dataclass(frozen=True)
class FoldResult:
    """Held-out predictions of one fold along the μ it fitted (a prefix of the grid), split into
    their parts (arrays (n_fitted, n_v) unless said otherwise), on the fold's model scale."""

    fold: int
    held_out: np.ndarray  # (n_v,) indices of the held-out individuals
    y: np.ndarray  # (n_v,) held-out phenotype, transformed as the training fold
    snps: np.ndarray  # X_v w
    covariates: np.ndarray  # C_v α̂
    background: np.ndarray  # K_vt a
    n_active: np.ndarray  # (n_fitted,)
    converged: np.ndarray  # (n_fitted,) duality gap certified
    coefs: sp.csr_matrix  # (n_fitted, n_snps) w per fitted μ
    log_delta: float  # of the null model fitted on the training individuals
    messages: tuple[str, ...]
    stop_reason: str = ""  # why the path ended before the grid's last μ ("" if it did not)

    @property
    def prediction(self) -> np.ndarray:
        """ŷ_v: (n_fitted, n_v)."""
        return self.snps + self.covariates + self.background

    @property
    def n_fitted(self) -> int:
        return len(self.n_active)


@dataclass(frozen=True)
class CvResult:
    """Per-fold scores along the μ grid: arrays (n_folds, n_mu) unless said otherwise, NaN
    (False for ``converged``) at the μ a fold did not fit."""

    mus: np.ndarray  # (n_mu,) decreasing
    folds: tuple[FoldResult, ...]
    explained_variance: np.ndarray
    mse: np.ndarray
    snp_variance: np.ndarray
    background_variance: np.ndarray
    n_active: np.ndarray
    converged: np.ndarray
    log_delta: np.ndarray  # (n_folds,)

    @property
    def n_fitted(self) -> np.ndarray:
        """(n_folds,) how many μ each fold fitted: μ 0 to n_fitted − 1."""
        return (~np.isnan(self.explained_variance)).sum(axis=1)


@dataclass(frozen=True)
class CvSummary:
    """Mean and standard error over the folds that fitted each μ: arrays (n_mu,) over the μ
    reached by at least one fold (a prefix of the grid)."""

    mus: np.ndarray
    mean_n_active: np.ndarray
    ev_mean: np.ndarray
    ev_se: np.ndarray
    mse_mean: np.ndarray
    mse_se: np.ndarray
    snp_mean: np.ndarray
    snp_se: np.ndarray
    background_mean: np.ndarray
    background_se: np.ndarray
    n_converged: np.ndarray  # folds whose fit at this μ is certified
    n_folds: np.ndarray  # folds that fitted this μ

    @property
    def n_complete(self) -> int:
        """How many leading μ every fold fitted (the μ `choose_mu` picks from)."""
        return int(np.sum(self.n_folds == self.n_folds[0]))


class RiseCounter:
    """bigstatsr's early stop by a validation error: ``update(error)`` after each μ counts the
    μ whose error rose from the previous μ since the last new minimum (a new minimum resets the
    count) and returns True once the count reaches ``n_abort``, at least ``min_mus`` μ in
    (bigstatsr's ``nlam.min``). ``n_abort`` = 0 never stops."""

    def __init__(self, n_abort: int, min_mus: int = 1):
        if int(n_abort) != n_abort or n_abort < 0:
            raise InputError(f"`n_abort` must be a non-negative integer, got {n_abort}")
        self.n_abort, self.min_mus = int(n_abort), int(min_mus)
        self.errors: list[float] = []
        self.best_index, self.rises = -1, 0

    def update(self, error: float) -> bool:
        error = float(error)
        if self.best_index < 0 or error < self.errors[self.best_index]:
            self.best_index, self.rises = len(self.errors), 0
        elif error > self.errors[-1]:
            self.rises += 1
        self.errors.append(error)
        return 0 < self.n_abort <= self.rises and len(self.errors) >= self.min_mus


class _HeldOut:
    """A fold's stop predicate for `fit_lmm_lasso`: scores the held-out individuals at each μ
    (ŷ_v split into X_v w, C_v α̂, K_vt a) and feeds Var(y_v − ŷ_v) to a `RiseCounter`."""

    def __init__(self, X_v, C_v, K_vt, y_v, counter: RiseCounter):
        self.X_v, self.C_v, self.K_vt, self.y_v, self.counter = X_v, C_v, K_vt, y_v, counter
        self.snps, self.covariates, self.background = [], [], []

    def __call__(self, k: int, step: LmmStep) -> bool:
        support = np.flatnonzero(step.coefs)
        self.snps.append(self.X_v.columns(support) @ step.coefs[support])
        self.covariates.append(self.C_v @ step.covariate_coefs)
        self.background.append(self.K_vt @ step.blup_residual)
        pred = self.snps[-1] + self.covariates[-1] + self.background[-1]
        return self.counter.update(np.var(self.y_v - pred))

    def reason(self) -> str:
        c = self.counter
        return (
            f"the held-out error rose `n_abort` {c.n_abort} times after its minimum at μ "
            f"index {c.best_index}"
        )


def shared_mu_grid(
    X: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray,
    eig: KinshipEigen,
    log_delta: float,
    grid: MuGrid = MuGrid(),
    l1_ratio: float = LassoSettings.l1_ratio,
) -> np.ndarray:
    """The μ grid of every fold: ``grid.values(μ_max)`` with μ_max of ALL individuals (their
    null model and rotated design), or ``grid.mu_list`` when given."""
    if grid.mu_list:
        return grid.values(float("nan"))
    lasso = LassoSettings(l1_ratio=l1_ratio)
    top = fit_lmm_lasso(X, y, covariates, eig, log_delta, grid=MuGrid(n_mu=1), lasso=lasso).mu_max
    return grid.values(top)


def fit_fold(
    data: TrainingData,
    fold: int,
    held_out: np.ndarray,
    mus: np.ndarray,
    settings: TrainingSettings,
    n_abort: int = CvSettings.n_abort,
    progress: Callable[[int], object] | None = None,
) -> FoldResult:
    """Train on everyone but ``held_out`` along ``mus`` and predict ``held_out`` by the BLUP,
    μ by μ, until the held-out error has risen ``n_abort`` times since its minimum (0: never)
    or a `PathStop` rule of ``settings.lasso`` ends the path. ``progress(n)`` is called as the
    path advances n μ: 1 per fitted μ, then once with the μ a stop skipped."""
    held_out = np.asarray(held_out)
    train = np.setdiff1d(np.arange(len(data.y_raw)), held_out)
    transform = fit_transform(training_phenotype(data, train), settings.transform)
    K_vt = kinship_block(data.K, held_out, train)
    min_mus = (settings.lasso.path_stop or PathStop()).min_mus
    monitor = _HeldOut(
        as_genotypes(data.X).take_rows(held_out),
        take_rows(data.covariates, held_out),
        K_vt,
        transform.apply(data.y_raw[held_out]),
        RiseCounter(n_abort, min_mus),
    )
    tick = None if progress is None else (lambda k: progress(1))
    fit = fit_training(
        data, train, settings, mus=mus, transform=transform, progress=tick, stop=monitor
    )
    path = fit.lmm.path
    if progress is not None and len(path.mus) < len(mus):
        progress(len(mus) - len(path.mus))
    reason = monitor.reason() if path.stop_rule == "stop" else path.stop_reason
    return FoldResult(
        fold=fold,
        held_out=held_out,
        y=monitor.y_v,
        snps=np.array(monitor.snps),
        covariates=np.array(monitor.covariates),
        background=np.array(monitor.background),
        n_active=path.n_active.copy(),
        converged=path.converged.copy(),
        coefs=path.coefs,
        log_delta=fit.null.log_delta,
        messages=tuple(f"fold {fold}: {m}" for m in fit.messages),
        stop_reason=reason,
    )


def _fold_task(data, mus, settings, n_abort, progress, item) -> FoldResult:
    fold, held_out = item
    return fit_fold(data, fold, held_out, mus, settings, n_abort, progress)


def _check_folds(folds: Sequence[np.ndarray], n_samples: int) -> None:
    seen = np.zeros(n_samples, dtype=int)
    for f, held_out in enumerate(folds):
        held_out = np.asarray(held_out)
        if held_out.size < 2 or held_out.min() < 0 or held_out.max() >= n_samples:
            raise InputError(
                f"fold {f} must hold at least 2 individuals with indices in [0, {n_samples})"
            )
        seen[held_out] += 1
    if np.any(seen > 1):
        raise InputError("the folds overlap: an individual is held out twice")


def cross_validate(
    data: TrainingData,
    folds: Sequence[np.ndarray],
    mus: np.ndarray,
    settings: TrainingSettings,
    map_fn: Callable = map,
    progress: Callable[[int], object] | None = None,
    n_abort: int = CvSettings.n_abort,
) -> CvResult:
    """Fit every fold along ``mus`` (non-increasing) and score its held-out individuals, each
    fold stopping as `fit_fold` says.

    ``folds`` are the held-out index sets (see `kfold_indices`). ``map_fn(fn, items)`` runs the
    independent folds (the builtin map, or a process pool's map) and must return results in
    order. ``progress(n)`` goes into each fold (see `fit_fold`): it runs where the fold runs,
    so with a process pool's map it must be picklable (e.g. a queue's put).
    """
    n_samples = len(data.y_raw)
    _check_folds(folds, n_samples)
    RiseCounter(n_abort)  # checks `n_abort` before any fold starts
    mus = np.asarray(mus, dtype=np.float64)
    task = functools.partial(_fold_task, data, mus, settings, n_abort, progress)
    results = list(map_fn(task, list(enumerate(folds))))
    shape = (len(results), len(mus))
    ev, mse, snp, bg, n_active = (np.full(shape, np.nan) for _ in range(5))
    converged = np.zeros(shape, dtype=bool)
    for f, res in enumerate(results):
        var_y = res.y.var()
        if var_y == 0:
            raise InputError(
                f"the phenotype is constant over the {len(res.y)} held-out individuals of fold "
                f"{res.fold}; use fewer `n_folds`"
            )
        pred, m = res.prediction, res.n_fitted
        for k in range(m):
            ev[f, k] = accuracy(res.y, pred[k]).explained_variance
            mse[f, k] = np.mean((res.y - pred[k]) ** 2)
        snp[f, :m] = res.snps.var(axis=1) / var_y
        bg[f, :m] = res.background.var(axis=1) / var_y
        n_active[f, :m] = res.n_active
        converged[f, :m] = res.converged
    return CvResult(
        mus=mus,
        folds=tuple(results),
        explained_variance=ev,
        mse=mse,
        snp_variance=snp,
        background_variance=bg,
        n_active=n_active,
        converged=converged,
        log_delta=np.array([r.log_delta for r in results]),
    )


def _mean_se(values: np.ndarray, fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the fitted folds and sd (ddof 1)/√m, NaN where fewer than 2 folds fitted."""
    m = fitted.sum(axis=0)
    filled = np.where(fitted, values, 0.0)
    mean = filled.sum(axis=0) / m
    dev2 = np.where(fitted, (values - mean) ** 2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(m > 1, np.sqrt(dev2 / (m - 1)) / np.sqrt(m), np.nan)
    return mean, se


def cv_summary(result: CvResult) -> CvSummary:
    """Per μ reached by at least one fold: mean over the folds that fitted it and standard
    error sd(ddof 1)/√m of every score, and m."""
    n_rows = int(result.n_fitted.max())
    fitted = np.arange(n_rows)[None, :] < result.n_fitted[:, None]

    def cut(values):
        return _mean_se(values[:, :n_rows], fitted)

    ev, mse = cut(result.explained_variance), cut(result.mse)
    snp, bg = cut(result.snp_variance), cut(result.background_variance)
    return CvSummary(
        mus=result.mus[:n_rows],
        mean_n_active=cut(result.n_active)[0],
        ev_mean=ev[0],
        ev_se=ev[1],
        mse_mean=mse[0],
        mse_se=mse[1],
        snp_mean=snp[0],
        snp_se=snp[1],
        background_mean=bg[0],
        background_se=bg[1],
        n_converged=result.converged[:, :n_rows].sum(axis=0),
        n_folds=fitted.sum(axis=0),
    )


def choose_mu(summary: CvSummary, rule: str = "best") -> int:
    """Index of the chosen μ among those every fold fitted: the largest mean held-out explained
    variance ("best", the largest μ among ties), or the largest μ whose mean is ≥ best mean −
    its standard error ("1se")."""
    if rule not in RULES:
        raise InputError(f"unknown `rule` {rule!r}; choose one of {', '.join(RULES)}")
    ev_mean = summary.ev_mean[: summary.n_complete]
    best = int(np.argmax(ev_mean))
    if rule == "best":
        return best
    threshold = ev_mean[best] - summary.ev_se[best]
    return int(np.flatnonzero(ev_mean >= threshold)[0])


@dataclass(frozen=True)
class FoldAverage:
    """bigstatsr's CMSA estimate: w̄ = (1/K) Σ_f w_f(μ_f), each fold's coefficients at its own
    best μ_f (largest held-out explained variance, the largest μ among ties).

    coefs (n_snps,) w̄; best_index (n_folds,) the index of μ_f in the grid; mus (n_folds,) μ_f;
    converged: every averaged fold fit was certified.
    """

    coefs: np.ndarray
    best_index: np.ndarray
    mus: np.ndarray
    converged: bool

    @property
    def mu(self) -> float:
        """A label for the averaged model, which solves no single μ: the geometric mean of μ_f."""
        return float(np.exp(np.mean(np.log(self.mus))))


def average_folds(result: CvResult) -> FoldAverage:
    """The CMSA model of ``result`` (see `FoldAverage`)."""
    best = np.array(
        [int(np.argmax(result.explained_variance[f, : fold.n_fitted]))
         for f, fold in enumerate(result.folds)]
    )  # fmt: skip
    rows = [fold.coefs[k].toarray().ravel() for fold, k in zip(result.folds, best, strict=True)]
    converged = all(bool(fold.converged[k]) for fold, k in zip(result.folds, best, strict=True))
    return FoldAverage(np.mean(rows, axis=0), best, result.mus[best], converged)
